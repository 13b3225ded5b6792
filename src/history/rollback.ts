import { access, copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { repoFolder } from '../sources/hf/paths.js';
import type { Exec } from '../sources/source.js';
import { hashFile } from '../store/store.js';
import { defaultImageVersion, readImageVersion } from '../state/image-version.js';
import { appendJournal } from '../state/journal.js';
import { IntegrityError, UsageError } from '../util/errors.js';
import { tempSibling, writeFileAtomic } from '../util/fs.js';
import { type HistoryRecord, historyDir, listHistory } from './record.js';

export interface RollbackOptions {
  stateDir: string;
  /** The version to go back to; default: the one before the last install. */
  to?: string;
  dryRun: boolean;
  imageVersion?: string;
  exec: Exec;
}

/** One change of a rollback: what, from which version (or digest) to which. */
export interface RollbackStep {
  kind: 'apt' | 'pip' | 'hf' | 'file' | 'stamp';
  what: string;
  from: string;
  to: string;
}

export interface RollbackPlan {
  /** The install being undone, and the version the box goes back to (absent: the box had no stamp before). */
  undo: { name: string; version: string; id: string };
  to?: string;
  steps: RollbackStep[];
  /** Needed and not found, each with where it would be. Non-empty: refused, nothing changed. */
  missing: string[];
  done: boolean;
}

/**
 * The plan to undo the last install: from its history record, against what the box has now. Nothing to do when
 * the box already is where the record says it was (a rollback run twice).
 */
export async function planRollback(o: RollbackOptions): Promise<{ plan: RollbackPlan; record: HistoryRecord }> {
  const records = await listHistory(o.stateDir);
  const record = records.at(-1);
  if (!record)
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `no install history in ${historyDir(o.stateDir)}: nothing to roll back to`,
      hint: 'history is recorded by installs of this version on; an older box has none (reinstall the earlier bundle with install --allow-downgrade)',
    });
  const prev = record.stamp ? (JSON.parse(record.stamp) as { version?: string }).version : undefined;
  if (o.to && o.to !== prev) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--to ${o.to}: the last install (${record.bundle.name} ${record.bundle.version}) replaced ${prev ?? 'no stamped version'}; rollback goes back one install at a time to a version this box had`,
      subject: '--to',
      hint: 'run vault-bundle history to see the versions this box had',
    });
  }
  const steps: RollbackStep[] = [];
  const missing: string[] = [];
  for (const a of record.apt)
    if (a.before !== a.after)
      steps.push({ kind: 'apt', what: `${a.package}:${a.arch}`, from: a.after, to: a.before ?? '(removed, unless something else needs it)' });
  for (const f of record.files) {
    const now = (await hashFile(f.path).catch(() => undefined))?.digest ?? null;
    if (now === f.before) continue;
    steps.push({ kind: 'file', what: f.path, from: now ?? '(none)', to: f.before ?? '(removed)' });
    const kept = f.before ? join(historyDir(o.stateDir), record.id, 'files', f.before.slice('sha256:'.length)) : undefined;
    if (kept && !(await exists(kept))) missing.push(`${f.path}: its old bytes (${f.before}) would be at ${kept}`);
  }
  for (const h of record.hf) {
    const ref = refFile(h);
    const now = await import('node:fs/promises')
      .then((fs) => fs.readFile(ref, 'utf8'))
      .then(
        (t) => t.trim(),
        () => null,
      );
    if (now === h.before) continue;
    steps.push({ kind: 'hf', what: `${h.repo}@${h.ref}`, from: now ?? '(none)', to: h.before ?? '(none)' });
    const snap = h.before ? join(dirname(dirname(ref)), 'snapshots', h.before) : undefined;
    if (snap && !(await exists(snap))) missing.push(`${h.repo}@${h.before}: its snapshot would be at ${snap}`);
  }
  const stampFile = o.imageVersion ?? defaultImageVersion(o.stateDir);
  const stampNow = await import('node:fs/promises').then((fs) => fs.readFile(stampFile, 'utf8')).catch(() => undefined);
  if (stampNow !== record.stamp)
    steps.push({ kind: 'stamp', what: stampFile, from: (await readImageVersion(stampFile))?.version ?? '(none)', to: prev ?? '(none)' });
  return {
    plan: {
      undo: { name: record.bundle.name, version: record.bundle.version, id: record.id },
      ...(prev ? { to: prev } : {}),
      steps,
      missing,
      done: steps.length === 0,
    },
    record,
  };
}

/**
 * Undoes the last install: checks everything it needs first (refused, nothing changed, when something is
 * missing), then files, model refs, and the stamp last; journalled. Apt and pip steps are not done yet by this
 * version: a plan with them is refused before any change.
 */
export async function rollback(o: RollbackOptions): Promise<RollbackPlan> {
  const { plan, record } = await planRollback(o);
  if (o.dryRun || plan.done) return plan;
  if (plan.missing.length > 0) {
    throw new IntegrityError({
      code: 'ROLLBACK_MISSING',
      message: `rollback to ${plan.to ?? 'the box before'} ${record.bundle.name} ${record.bundle.version} needs what this box no longer has:\n  ${plan.missing.join('\n  ')}`,
      hint: 'nothing was changed. Put back what is named (or reinstall the earlier bundle with install --allow-downgrade)',
    });
  }
  const todo = plan.steps.filter((s) => s.kind === 'apt' || s.kind === 'pip');
  if (todo.length > 0) {
    throw new IntegrityError({
      code: 'ROLLBACK_UNSUPPORTED',
      message: `rolling back apt and pip is not done by this version yet:\n  ${todo.map((s) => `${s.kind} ${s.what} ${s.from} -> ${s.to}`).join('\n  ')}`,
      hint: 'nothing was changed. Reinstall the earlier bundle with install --allow-downgrade',
    });
  }
  for (const f of record.files) {
    if (f.before === null) await rm(f.path, { force: true });
    else {
      const tmp = tempSibling(f.path);
      await mkdir(dirname(f.path), { recursive: true });
      await copyFile(join(historyDir(o.stateDir), record.id, 'files', f.before.slice('sha256:'.length)), tmp);
      await rename(tmp, f.path);
    }
  }
  for (const h of record.hf) {
    if (h.before === null) await rm(refFile(h), { force: true });
    else await writeFile(refFile(h), h.before);
  }
  const stampFile = o.imageVersion ?? defaultImageVersion(o.stateDir);
  if (record.stamp === undefined) await rm(stampFile, { force: true });
  else await writeFileAtomic(stampFile, record.stamp);
  await appendJournal(o.stateDir, {
    time: new Date().toISOString(),
    bundle: { name: record.bundle.name, version: plan.to ?? '(none)', path: `rollback of ${record.bundle.version}` },
    dryRun: false,
    ok: true,
    rollback: { from: record.bundle.version, record: record.id, steps: plan.steps },
  });
  return plan;
}

function refFile(h: HistoryRecord['hf'][number]): string {
  return join(h.home, 'hub', repoFolder(h.type === 'dataset' ? 'dataset' : 'model', h.repo), 'refs', h.ref);
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
