import { appendFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { extractJob, inPlace } from '../bundle/extract.js';
import type { BaseRef, BundleIndex } from '../bundle/index.js';
import { BLOBS_DIR, INDEX, blobPath } from '../bundle/layout.js';
import { type BundleEntry, type BundleReader, openBundle } from '../bundle/reader.js';
import { verifyBundle, verifyError } from '../bundle/verify.js';
import { sources } from '../sources/registry.js';
import type { BoxCtx, Exec, InstallReport, Locked } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import type { Reporter } from '../util/events.js';
import { IntegrityError, InterruptedError, UsageError, localWriteError } from '../util/errors.js';
import { withTempDir } from '../util/fs.js';
import { limits } from '../util/limits.js';
import { type SpaceCheck, type SpaceNeed, checkSpace } from '../util/space.js';

export interface InstallOptions {
  bundle: string;
  dryRun: boolean;
  stateDir?: string;
  only?: string[];
  /** Also write every model's files as real files under this folder (tools that do not follow symlinks). */
  flat?: string;
  /** A delta's base bundle; default: where the journal says that bundle was installed from. */
  base?: string;
  exec: Exec;
  report: Reporter;
  signal: AbortSignal;
}

export interface InstallResult {
  bundle: string;
  name: string;
  version: string;
  dryRun: boolean;
  reports: (InstallReport & { ms: number })[];
  journal?: string;
  /** Free space checked per filesystem before anything was written. */
  space?: SpaceCheck[];
  /** Time spent verifying (and, for a delta, checking its base) before installing. */
  verifyMs: number;
}

export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/vault-bundle' : join(homedir(), '.local', 'state', 'vault-bundle');
}

interface JournalEntry {
  time: string;
  bundle: { name: string; version: string; path: string };
  dryRun: boolean;
}

/**
 * Verifies the bundle (a folder, a tar or a split folder; a delta with its base) and refuses one that fails,
 * checks free space, then installs its artifacts kind by kind in the registry's order (file, apt, pip, hf).
 * A tar or split bundle is read in place: each kind's blobs are extracted just before its install and removed
 * after it, so the box never needs room for the whole bundle twice. Every run is appended to the journal.
 */
export async function installCommand(o: InstallOptions): Promise<InstallResult> {
  const location = resolve(o.bundle);
  const stateDir = o.stateDir ?? defaultStateDir();
  const journal = join(stateDir, 'journal.jsonl');
  const reader = await openBundle(location);
  if (!reader.entries.has(INDEX)) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${o.bundle}: no ${INDEX}; not a vault-bundle bundle`,
      subject: o.bundle,
      hint: 'give the folder, tar or split folder written by "vault-bundle build"',
    });
  }
  const index = JSON.parse((await reader.read(INDEX, limits.maxIndexBytes)).toString('utf8')) as BundleIndex;
  const basePath = index.base ? (o.base ?? (await baseFromJournal(journal, index.base))) : undefined;
  if (index.base && !basePath) {
    throw new IntegrityError({
      code: 'BASE_REQUIRED',
      message: `${o.bundle} is a delta over ${index.base.name} ${index.base.version}; ${index.base.blobs.length} blobs are in that base, which this box's journal does not locate`,
      subject: o.bundle,
      hint: `give the base bundle with --base <folder, tar or split folder of ${index.base.name} ${index.base.version}>`,
    });
  }
  o.report({ type: 'phase', phase: 'verify' });
  const v = await verifyBundle(location, basePath ? { base: basePath } : {});
  if (!v.ok) throw verifyError(v);
  const base = basePath ? await openBundle(basePath) : undefined;
  const reports: InstallResult['reports'] = [];
  let space: SpaceCheck[] | undefined;
  await withTempDir('vault-install', async (workDir) => {
    const where = new Map<string, { entry: BundleEntry; inPlace?: string }>();
    const sizes = new Map<string, number>();
    const fileSize = (f: string) => sizes.get(f);
    for (const r of [reader, base]) {
      for (const e of r?.entries.values() ?? []) if (e.job.segments.length === 1 && e.job.segments[0]!.offset === 0) sizes.set(e.job.segments[0]!.file, e.size);
    }
    // Folder readers list whole files; anything else (tar members, parts) is extracted when its kind installs.
    const isFolder = (r: BundleReader) => r.form === 'dir';
    for (const a of index.artifacts) {
      const p = blobPath(hexOf(a.digest));
      const r = reader.entries.has(p) ? reader : base!;
      const entry = r.entries.get(p)!;
      where.set(a.digest, { entry, ...(isFolder(r) ? { inPlace: inPlace(entry.job, fileSize) } : {}) });
    }
    // The bundle's small files (pip's requirements.lock, views) in a folder: the bundle itself when it is one.
    let bundleDir = location;
    if (reader.form === 'tar') {
      bundleDir = join(workDir, 'bundle');
      for (const e of reader.entries.values()) {
        if (e.kind === 'file' && !e.path.startsWith(`${BLOBS_DIR}/`) && !e.path.startsWith('runtime/')) await extractJob(e.job, join(bundleDir, e.path));
      }
    }
    const staged = join(workDir, 'blobs');
    const ctx: BoxCtx = {
      bundleDir,
      blobPath: (item) => where.get(item.digest)?.inPlace ?? join(staged, hexOf(item.digest)),
      workDir,
      stateDir,
      dryRun: o.dryRun,
      options: o.flat ? { flat: resolve(o.flat) } : {},
      exec: o.exec,
      report: o.report,
      signal: o.signal,
    };
    const chosen = sources
      .filter((s) => !o.only || o.only.includes(s.kind))
      .map((s) => ({ s, items: index.artifacts.filter((a) => a.kind === s.kind) }))
      .filter((k) => k.items.length > 0);
    const toExtract = (items: readonly Locked[]) => items.filter((a) => !where.get(a.digest)?.inPlace);
    const needs: SpaceNeed[] = [];
    for (const { s, items } of chosen) if (s.space) needs.push(...(await s.space(items, ctx)));
    const largestStage = Math.max(0, ...chosen.map(({ items }) => toExtract(items).reduce((n, a) => n + a.size, 0)));
    needs.push({ path: staged, bytes: largestStage, what: 'blobs extracted from the tar or parts (one kind at a time)' });
    space = await checkSpace(needs, { throw: !o.dryRun });
    for (const { s, items } of chosen) {
      if (o.signal.aborted) throw new InterruptedError();
      o.report({ type: 'phase', phase: `install ${s.kind}`, detail: `${items.length} artifacts` });
      const t = performance.now();
      const extract = toExtract(items);
      for (const a of extract) await extractJob(where.get(a.digest)!.entry.job, join(staged, hexOf(a.digest))).catch(ignoreExisting);
      try {
        const r = await s.install(items, ctx);
        reports.push({ ...r, ms: Math.round(performance.now() - t) });
      } finally {
        for (const a of extract) await rm(join(staged, hexOf(a.digest)), { force: true });
      }
    }
  });
  const entry = {
    time: new Date().toISOString(),
    bundle: { name: index.name, version: index.version, path: location },
    ...(index.base ? { base: { name: index.base.name, version: index.base.version, path: basePath } } : {}),
    dryRun: o.dryRun,
    results: reports.map(({ detail: _d, ...r }) => r),
  };
  try {
    await mkdir(stateDir, { recursive: true });
    await appendFile(journal, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    throw localWriteError(err, journal);
  }
  return { bundle: location, name: index.name, version: index.version, dryRun: o.dryRun, reports, journal, verifyMs: v.durationMs, ...(space ? { space } : {}) };
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}

/** Where this box last installed the base from (a real install, and the bundle is still there). */
async function baseFromJournal(journal: string, base: BaseRef): Promise<string | undefined> {
  const text = await readFile(journal, 'utf8').catch(() => '');
  const entries = text
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as JournalEntry];
      } catch {
        return [];
      }
    })
    .filter((e) => !e.dryRun && e.bundle.name === base.name && e.bundle.version === base.version)
    .reverse();
  for (const e of entries) if (await stat(e.bundle.path).then(() => true, () => false)) return e.bundle.path;
  return undefined;
}
