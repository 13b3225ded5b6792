import { access, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { repoFolder } from '../sources/hf/paths.js';
import type { Exec } from '../sources/source.js';
import { hashFile } from '../store/store.js';
import { defaultImageVersion, readImageVersion } from '../state/image-version.js';
import { appendJournal } from '../state/journal.js';
import { IntegrityError, UsageError, VaultError } from '../util/errors.js';
import type { Reporter } from '../util/events.js';
import { tempSibling, withTempDir, writeFileAtomic } from '../util/fs.js';
import type { Plan, PlanStep } from '../util/plan.js';
import { type Earlier, type Wanted, candidates, checkEarlier, locate } from './earlier.js';
import { stampDigest } from './kept.js';
import { type HistoryRecord, historyDir, listHistory } from './record.js';
import { type UndoWork, checkUndoApt, planUndo, undoApt, undoPip } from './undo.js';

export interface RollbackOptions {
  stateDir: string;
  /** The version to go back to; default: the one before the last install. */
  to?: string;
  dryRun: boolean;
  imageVersion?: string;
  /** The earlier bundle (a local folder, tar or split folder); default: the journal's path, then the kept blobs. */
  bundle?: string;
  /** Release key: the earlier bundle's SHA256SUMS must be signed by it (default: the box trust policy). */
  key?: string;
  now?: Date;
  exec: Exec;
  report?: Reporter;
  signal?: AbortSignal;
}

export type RollbackStep = PlanStep;

/** The plan of a rollback (util/plan's Plan, as install --dry-run prints it), with what it undoes. */
export interface RollbackPlan extends Plan {
  /** The install being undone, and the version the box goes back to (absent: the box had no stamp before). */
  undo: { name: string; version: string; id: string };
  to?: string;
  /** The earlier bundle the apt and pip steps take their packages from. */
  from?: string;
  /** Needed and not found, each with where it would be. Non-empty: refused, nothing changed. */
  missing: string[];
  done: boolean;
}

interface Planned {
  plan: RollbackPlan;
  record: HistoryRecord;
  work: UndoWork;
  found?: Awaited<ReturnType<typeof locate>>['found'];
}

/**
 * The plan to undo the last install: from its history record, against what the box has now. Nothing to do when
 * the box already is where the record says it was (a rollback run twice).
 */
export async function planRollback(o: RollbackOptions, workDir: string): Promise<Planned> {
  const records = await listHistory(o.stateDir);
  const record = records.at(-1);
  if (!record)
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `no install history in ${historyDir(o.stateDir)}: nothing to roll back to`,
      hint: 'history is recorded by installs of this version on; an older box has none (reinstall the earlier bundle with install --allow-downgrade)',
    });
  const was = record.stamp ? (JSON.parse(record.stamp) as { version?: string; bundle?: string }) : undefined;
  const prev = was?.version;
  if (o.to && o.to !== prev) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--to ${o.to}: the last install (${record.bundle.name} ${record.bundle.version}) replaced ${prev ?? 'no stamped version'}; rollback goes back one install at a time to a version this box had`,
      subject: '--to',
      hint: 'run vault-bundle history to see the versions this box had',
    });
  }
  const work = await planUndo(record, o.exec, workDir);
  const steps: PlanStep[] = [...work.steps];
  const missing: string[] = [];
  let found: Planned['found'];
  if (work.needs.length > 0) {
    const older = records.at(-2);
    const wanted: Wanted = {
      name: was?.bundle ?? older?.bundle.name,
      version: prev ?? older?.bundle.version,
      digest: (record.stamp ? stampDigest(record.stamp) : undefined) ?? older?.bundle.digest,
    };
    const r = await locate(await candidates(o.stateDir, wanted, o.bundle), wanted, work.needs);
    found = r.found;
    missing.push(...r.missing);
  }
  await planFiles(o, record, steps, missing);
  const stampFile = o.imageVersion ?? defaultImageVersion(o.stateDir);
  const stampNow = await readFile(stampFile, 'utf8').catch(() => undefined);
  if (stampNow !== record.stamp)
    steps.push({ kind: 'stamp', what: stampFile, from: (await readImageVersion(stampFile))?.version ?? '(none)', to: prev ?? '(none)' });
  const title = `${o.dryRun ? 'dry run: ' : ''}rollback of ${record.bundle.name} ${record.bundle.version} to ${prev ?? 'the box before it'}`;
  const plan: RollbackPlan = {
    title,
    undo: { name: record.bundle.name, version: record.bundle.version, id: record.id },
    ...(prev ? { to: prev } : {}),
    ...(found ? { from: found.location } : {}),
    steps,
    missing,
    done: steps.length === 0,
  };
  return { plan, record, work, ...(found ? { found } : {}) };
}

/** The file and model-ref steps, with the kept bytes and snapshots they need. */
async function planFiles(o: RollbackOptions, record: HistoryRecord, steps: PlanStep[], missing: string[]): Promise<void> {
  for (const f of record.files) {
    const now = (await hashFile(f.path).catch(() => undefined))?.digest ?? null;
    if (now === f.before) continue;
    steps.push({ kind: 'file', what: f.path, from: now ?? '(none)', to: f.before ?? '(removed)' });
    const kept = f.before ? keptBytes(o.stateDir, record, f.before) : undefined;
    if (kept && !(await exists(kept))) missing.push(`${f.path}: its old bytes (${f.before}) would be at ${kept}`);
  }
  for (const h of record.hf) {
    const ref = refFile(h);
    const now = await readFile(ref, 'utf8').then(
      (t) => t.trim(),
      () => null,
    );
    if (now === h.before) continue;
    steps.push({ kind: 'hf', what: `${h.repo}@${h.ref}`, from: now ?? '(none)', to: h.before ?? '(none)' });
    const snap = h.before ? join(dirname(dirname(ref)), 'snapshots', h.before) : undefined;
    if (snap && !(await exists(snap))) missing.push(`${h.repo}@${h.before}: its snapshot would be at ${snap}`);
  }
}

/**
 * Undoes the last install. First, with nothing changed: the plan, every artifact it needs found (else
 * ROLLBACK_MISSING naming each and where it would be) and checked (the earlier bundle's signature and
 * SHA256SUMS), apt's simulation of the downgrade. Then apt, the venv, model refs, files, and the stamp last;
 * journalled, a stop partway too. Run again, it does what is left; on a box already back, nothing.
 */
export async function rollback(o: RollbackOptions): Promise<RollbackPlan> {
  return withTempDir('vault-rollback', async (workDir) => {
    const { plan, record, work, found } = await planRollback(o, workDir);
    if (o.dryRun || plan.done) return plan;
    if (plan.missing.length > 0) {
      throw new IntegrityError({
        code: 'ROLLBACK_MISSING',
        message: `rollback to ${plan.to ?? 'the box before'} ${record.bundle.name} ${record.bundle.version} needs what this box no longer has:\n  ${plan.missing.join('\n  ')}`,
        hint: 'nothing was changed. Give the earlier bundle with --bundle <folder, tar, http(s):// or oci://>, or put back what is named',
      });
    }
    const earlier: Earlier | undefined = found
      ? await checkEarlier(found, { ...(o.key ? { key: o.key } : {}), workDir, ...(o.now ? { now: o.now } : {}) })
      : undefined;
    const ctx = { exec: o.exec, report: o.report ?? (() => {}), signal: o.signal ?? new AbortController().signal, stateDir: o.stateDir, workDir };
    await checkUndoApt(work, earlier, ctx);
    const entry = (ok: boolean, extra: Record<string, unknown> = {}) => ({
      time: new Date().toISOString(),
      bundle: { name: record.bundle.name, version: plan.to ?? '(none)', path: `rollback of ${record.bundle.version}` },
      dryRun: false,
      ok,
      rollback: { from: record.bundle.version, record: record.id, ...(earlier ? { bundle: earlier.location } : {}), steps: plan.steps },
      ...extra,
    });
    let at = 'apt';
    try {
      await undoApt(work, earlier, ctx);
      at = 'pip';
      await undoPip(work, earlier, ctx);
      at = 'files';
      await applyFiles(o, record);
    } catch (err) {
      const error = err instanceof VaultError ? { code: String(err.code), message: err.message } : { code: 'INTERNAL', message: String(err) };
      await appendJournal(o.stateDir, entry(false, { failedAt: at, error })).catch(() => undefined);
      throw err;
    }
    await appendJournal(o.stateDir, entry(true));
    return plan;
  });
}

/** Model refs, overwritten files (their kept bytes, renamed into place), then the stamp. */
async function applyFiles(o: RollbackOptions, record: HistoryRecord): Promise<void> {
  for (const h of record.hf) {
    if (h.before === null) await rm(refFile(h), { force: true });
    else await writeFile(refFile(h), h.before);
  }
  for (const f of record.files) {
    if (f.before === null) await rm(f.path, { force: true });
    else {
      const tmp = tempSibling(f.path);
      await mkdir(dirname(f.path), { recursive: true });
      await copyFile(keptBytes(o.stateDir, record, f.before), tmp);
      await rename(tmp, f.path);
    }
  }
  const stampFile = o.imageVersion ?? defaultImageVersion(o.stateDir);
  if (record.stamp === undefined) await rm(stampFile, { force: true });
  else await writeFileAtomic(stampFile, record.stamp);
}

const keptBytes = (stateDir: string, record: HistoryRecord, digest: string) => join(historyDir(stateDir), record.id, 'files', digest.slice('sha256:'.length));

function refFile(h: HistoryRecord['hf'][number]): string {
  return join(h.home, 'hub', repoFolder(h.type === 'dataset' ? 'dataset' : 'model', h.repo), 'refs', h.ref);
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
