import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { processStamp, processStartTime } from '../util/proc.js';

/**
 * Who writes a single-stream download's partial file (partial/<hex>.part): one process at a time, so the bytes
 * it hashed as they streamed in are the bytes the file holds, and its blob can get a proof when it lands
 * (proof.ts). Two builds may share one cache; node has no flock(2), so the claim is a lock file beside the
 * partial, `<hex>.lock`, holding the claimant's `<pid>-<start time>` (util/proc.ts: together they name one
 * process for as long as the machine runs). It is made whole in one step (written under a name of its own,
 * then hard-linked into place: link(2) fails when the name exists), so no one ever reads a half-written lock.
 *
 * A lock whose process is gone (killed mid-download) is taken over: it is renamed aside under a name of our
 * own (one rename wins), and only when the file moved is the one judged dead is it dropped and the claim
 * tried again; a live one moved by mistake is put back. A lock held by a live process (another build is
 * downloading the same blob) is left alone: the caller then writes a partial file of its own (`privatePath`).
 */

export interface PartialClaim {
  /** The partial file this process alone writes. */
  path: string;
  /** Whether it is the shared `<hex>.part` (resumable by a later run); false: a file of this process's own. */
  shared: boolean;
  /** Lets the lock go (a no-op for a private file). */
  release(): Promise<void>;
}

/** Claims `partial` (`<dir>/<hex>.part`) for this process, or names a partial file of its own when another live process holds it. */
export async function claimPartial(partial: string): Promise<PartialClaim> {
  const lock = lockPathOf(partial);
  const stamp = processStamp();
  // Two stores of one process (two builds at once) share the stamp: the lock is held once per process.
  if (!held.has(lock)) {
    held.add(lock);
    if (await takeLock(lock, stamp)) {
      return {
        path: partial,
        shared: true,
        release: async () => {
          await dropOwnLock(lock, stamp);
          held.delete(lock);
        },
      };
    }
    held.delete(lock);
  }
  return { path: privatePath(partial, `${stamp}-${++privates}`), shared: false, release: () => Promise.resolve() };
}

/** The locks this process holds; a count that makes each private partial file's name its own. */
const held = new Set<string>();
let privates = 0;

export function lockPathOf(partial: string): string {
  return partial.replace(/\.part$/, '.lock');
}

/** A partial file only this process writes: `<hex>.vbtmp-<pid>-<start>-<n>-.part` (a leftover of a killed one is a temp of a dead process). */
export function privatePath(partial: string, tag: string): string {
  return partial.replace(/\.part$/, `.vbtmp-${tag}-.part`);
}

async function takeLock(lock: string, stamp: string): Promise<boolean> {
  const tmp = `${lock}.vbtmp-${stamp}-`;
  try {
    await writeFile(tmp, stamp);
  } catch {
    return false; // the cache cannot take it: write privately
  }
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await linked(tmp, lock)) return true;
      const holder = await readFile(lock, 'utf8').catch(() => undefined);
      if (holder === undefined) continue; // let go meanwhile: try again
      if (holder === stamp) return false; // a lock of this process that `held` does not know: leave it be
      if (!deadHolder(holder) || !(await removeDead(lock, holder, stamp))) return false;
    }
    return false;
  } finally {
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}

async function linked(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch {
    return false;
  }
}

/** Whether the `<pid>-<start>` in a lock names a process that is gone (a stamp that cannot be read counts as alive). */
function deadHolder(holder: string): boolean {
  const m = /^(\d+)-(\d+)$/.exec(holder);
  if (!m) return false;
  const start = processStartTime(Number(m[1]));
  if (start !== undefined) return m[2] !== '0' && start !== m[2];
  return processStartTime(process.pid) !== undefined; // /proc works and has no such process
}

/** Moves a dead holder's lock aside and drops it; a live lock moved by mistake (taken over meanwhile) is put back. */
async function removeDead(lock: string, holder: string, stamp: string): Promise<boolean> {
  const aside = `${lock}.dead.vbtmp-${stamp}-`;
  try {
    await rename(lock, aside);
  } catch {
    return true; // someone else moved it first: try the claim again
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== holder) {
    await link(aside, lock).catch(() => undefined);
    await rm(aside, { force: true }).catch(() => undefined);
    return false;
  }
  await rm(aside, { force: true }).catch(() => undefined);
  return true;
}

async function dropOwnLock(lock: string, stamp: string): Promise<void> {
  const holder = await readFile(lock, 'utf8').catch(() => undefined);
  if (holder === stamp) await rm(lock, { force: true }).catch(() => undefined);
}
