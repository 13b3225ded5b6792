import { copyFile, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleIndex } from '../bundle/index.js';
import { repoFolder } from '../sources/hf/paths.js';
import { hfHome, refsOf } from '../sources/hf/install.js';
import { venvOf } from '../sources/pip/install.js';
import { autoInstalled, dpkgInstalled, versionOn } from '../sources/apt/plan.js';
import type { Exec, Locked, PlannedChange } from '../sources/source.js';
import { hashFile } from '../store/store.js';
import { writeFileAtomic } from '../util/fs.js';

export const HISTORY_SCHEMA = 'vault-bundle-history/v1';
export const DEFAULT_KEEP_HISTORY = 3;

/**
 * What one install was about to replace, recorded before it changed anything: the way back (rollback) and
 * the answer to "what did that update change". One JSON file per install in <state>/history/.
 */
export interface HistoryRecord {
  schema: typeof HISTORY_SCHEMA;
  /** `<time>-<name>-<version>`: sorts oldest first; names the folder of kept bytes too. */
  id: string;
  time: string;
  bundle: { name: string; version: string; path: string; digest: string };
  /** The stamp before this install (its exact bytes), absent on a box's first. */
  stamp?: string;
  /**
   * Each package the apt step changes, from apt's own plan (`apt-get -s` of the step: what it installs,
   * upgrades, downgrades or removes, dependencies of the box included): the version dpkg had before (null: not
   * installed), after (null: removed), and whether apt-mark had it auto. Without a plan (an older record, a box
   * whose apt did not simulate), the bundle's apt artifacts against dpkg-query.
   */
  apt: { package: string; arch: string; before: string | null; auto: boolean; after: string | null }[];
  /** Where `apt` came from: apt's simulation of the step, or the bundle's packages against dpkg-query. */
  aptFrom?: 'apt-get -s' | 'dpkg-query';
  /** The venv's distributions before (null: no venv there yet). */
  pip?: { venv: string; before: { name: string; version: string }[] | null };
  /** Each HF ref: the commit it held before (null: none). */
  hf: { home: string; type: string; repo: string; ref: string; before: string | null; after: string }[];
  /** Each file the install writes: the old bytes' digest (kept under <id>/files/<hex>), null when there was none. */
  files: { path: string; before: string | null; after: string }[];
}

export interface RecordInput {
  stateDir: string;
  index: BundleIndex;
  location: string;
  indexSha256: string;
  stampFile: string;
  /** apt's plan of the step (the preflight's simulation); absent: the bundle's apt artifacts against dpkg-query. */
  aptPlan?: readonly PlannedChange[];
  exec: Exec;
  now?: Date;
}

export function historyDir(stateDir: string): string {
  return join(stateDir, 'history');
}

/** Reads what the box has of everything the bundle will touch; keeps old file bytes; writes the record. */
export async function recordHistory(r: RecordInput): Promise<HistoryRecord> {
  const { index } = r;
  const by = (k: string) => index.artifacts.filter((a) => a.kind === k);
  const time = (r.now ?? new Date()).toISOString();
  const id = `${time.replace(/[:.]/g, '')}-${index.name}-${index.version}`;
  const dir = historyDir(r.stateDir);
  const stamp = await readFile(r.stampFile, 'utf8').catch(() => undefined);
  const files: HistoryRecord['files'] = [];
  for (const f of by('file')) {
    const dest = f.meta?.dest;
    if (!dest) continue;
    const have = (await hashFile(dest).catch(() => undefined))?.digest;
    if (have && have !== f.digest) {
      const hex = have.slice('sha256:'.length);
      await mkdir(join(dir, id, 'files'), { recursive: true });
      await copyFile(dest, join(dir, id, 'files', hex));
    }
    files.push({ path: dest, before: have ?? null, after: f.digest });
  }
  const pipItems = by('pip');
  const rec: HistoryRecord = {
    schema: HISTORY_SCHEMA,
    id,
    time,
    bundle: { name: index.name, version: index.version, path: r.location, digest: `sha256:${r.indexSha256}` },
    ...(stamp !== undefined ? { stamp } : {}),
    apt: r.aptPlan ? await aptFromPlan(r.aptPlan, r.exec) : await aptBefore(by('apt'), r.exec),
    aptFrom: r.aptPlan ? 'apt-get -s' : 'dpkg-query',
    ...(pipItems.length ? { pip: { venv: venvOf(pipItems), before: await venvBefore(venvOf(pipItems), r.exec) } } : {}),
    hf: await refsBefore(by('hf')),
    files,
  };
  await writeFileAtomic(join(dir, `${id}.json`), `${JSON.stringify(rec, null, 2)}\n`);
  return rec;
}

async function aptBefore(items: readonly Locked[], exec: Exec): Promise<HistoryRecord['apt']> {
  if (items.length === 0) return [];
  // A box without dpkg-query or apt-mark (a test's recorded tools) records nothing installed, never fails the install.
  const [have, auto] = [await dpkgInstalled(exec), await autoInstalled(exec)];
  return items.map((i) => {
    const arch = i.id.split(':').at(-1) ?? '';
    return { package: i.name, arch, before: versionOn(have, i.name, arch), auto: isAuto(auto, i.name, arch), after: i.version };
  });
}

/** apt's plan with each package's auto flag before the step (apt-mark showauto). */
async function aptFromPlan(plan: readonly PlannedChange[], exec: Exec): Promise<HistoryRecord['apt']> {
  if (plan.length === 0) return [];
  const auto = await autoInstalled(exec);
  return plan.map((c) => ({ package: c.package, arch: c.arch, before: c.before, auto: c.before !== null && isAuto(auto, c.package, c.arch), after: c.after }));
}

const isAuto = (auto: ReadonlySet<string>, pkg: string, arch: string) => auto.has(pkg) || auto.has(`${pkg}:${arch}`);

export async function venvBefore(venv: string, exec: Exec): Promise<{ name: string; version: string }[] | null> {
  const code = 'import importlib.metadata as m, json; print(json.dumps(sorted([[d.metadata["Name"], d.version] for d in m.distributions()])))';
  const r = await exec(join(venv, 'bin', 'python'), ['-c', code]).catch(() => undefined);
  if (!r || r.code !== 0) return null;
  try {
    return (JSON.parse(r.stdout) as [string, string][]).map(([name, version]) => ({ name, version }));
  } catch {
    return null;
  }
}

export async function refsBefore(items: readonly Locked[]): Promise<HistoryRecord['hf']> {
  if (items.length === 0) return [];
  const home = hfHome(items);
  const out: HistoryRecord['hf'] = [];
  for (const [key, commit] of refsOf(items)) {
    const [type, repo, ref] = key.split('\0') as [string, string, string];
    const file = join(home, 'hub', repoFolder(type === 'dataset' ? 'dataset' : 'model', repo), 'refs', ref);
    const before = await readFile(file, 'utf8').then(
      (t) => t.trim(),
      () => null,
    );
    out.push({ home, type, repo, ref, before, after: commit });
  }
  return out;
}

/** The records, oldest first; a torn or foreign file is skipped. */
export async function listHistory(stateDir: string): Promise<HistoryRecord[]> {
  const dir = historyDir(stateDir);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const out: HistoryRecord[] = [];
  for (const n of names) {
    try {
      const r = JSON.parse(await readFile(join(dir, n), 'utf8')) as HistoryRecord;
      if (r.schema === HISTORY_SCHEMA && typeof r.id === 'string') out.push(r);
    } catch {
      // not ours
    }
  }
  return out;
}

/** Keeps the newest `keep` records (and their kept bytes); removes the rest. */
export async function pruneHistory(stateDir: string, keep: number): Promise<string[]> {
  const all = await listHistory(stateDir);
  const gone = all.slice(0, Math.max(0, all.length - keep));
  for (const r of gone) {
    await rm(join(historyDir(stateDir), `${r.id}.json`), { force: true });
    await rm(join(historyDir(stateDir), r.id), { recursive: true, force: true });
  }
  return gone.map((r) => r.id);
}
