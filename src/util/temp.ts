import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { LocalError, localWriteError } from './errors.js';
import { TEMP_TAG, madeByDeadProcess, tempTag } from './proc.js';

/**
 * Temp names handed out in this process. Whichever of them still exist when the process exits, however it exits
 * (its end, an error, process.exit, a second Ctrl-C's forced quit), are removed then (removeTempsSync on 'exit'),
 * so nothing is left half-written and no caller needs an exit hook of its own. A name that was renamed into place
 * no longer exists and is skipped (the names are random: they never name a real file).
 *
 * A SIGKILL or a power cut leaves them: every name carries `vbtmp-<pid>-<start time>-` (util/proc.ts), and the
 * first temp this process makes in a folder sweeps that folder of the temps of dead processes (sweepDeadTemps),
 * as the CLI does for $TMPDIR at start. A live process's temps are never touched: two builds to one --out at
 * once are safe.
 */
const temps = new Set<string>();
const swept = new Set<string>();
let exitHooked = false;

/** A temp of this process: whatever of it is still there when the process exits (any exit) is removed then. */
function track(tmp: string): void {
  temps.add(tmp);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', removeTempsSync);
}

/** Sweeps `dir` of dead processes' temps, once per folder and process, in the background (errors ignored). */
function sweepOnce(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  sweepDeadTemps(dir).catch(() => undefined);
}

/** A name for a temp sibling of `path`: same folder, so the final rename is atomic. */
export function tempSibling(path: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.${tempTag()}${randomBytes(4).toString('hex')}`);
  track(tmp);
  sweepOnce(dirname(resolve(path)));
  return tmp;
}

/** The temp is gone (renamed into place or removed): a forced quit has nothing to do for it. */
export function tempDone(tmp: string): void {
  temps.delete(tmp);
}

/** For a forced quit (the second Ctrl-C): removes every temp file and folder of this process, synchronously. */
export function removeTempsSync(): void {
  for (const t of temps) {
    try {
      rmSync(t, { recursive: true, force: true });
    } catch {
      // Best effort on the way out; the next run sweeps what is left (sweepDeadTemps).
    }
  }
  temps.clear();
}

/**
 * Removes from `dir` every entry whose name carries our temp tag and whose maker is dead (its pid gone, or
 * reused by a process started at another time). Returns the paths removed. Cheap: one readdir.
 */
export async function sweepDeadTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (!n.includes(`${TEMP_TAG}-`) || !madeByDeadProcess(n) || /\.old-vbtmp-/.test(n)) continue;
    const p = join(dir, n);
    try {
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Not ours to fight over (permissions): the leftover only costs space.
    }
  }
  return removed;
}

/** The name swapInto gives the bundle it replaces, until the new one is in place. */
export function oldSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.old-${tempTag()}${Date.now()}`);
}

/**
 * Removes what an earlier run that was killed (SIGKILL, a second Ctrl-C, a power cut) left beside `path`:
 * temps of dead processes (sweepDeadTemps), and the unstamped names of older versions
 * (`.<name>.tmp-<12 hex>`, the nested `..<name>.tmp-<hex>.tmp-<hex>`, `.<name>.old-<pid>-<ms>`) last changed
 * before this process started. Returns the paths removed.
 */
export async function sweepStaleTemps(path: string, startedAt = performance.timeOrigin): Promise<string[]> {
  const dir = dirname(resolve(path));
  const base = basename(path);
  const name = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const legacy = new RegExp(`^(?:\\.${name}\\.tmp-[0-9a-f]{12}|\\.\\.${name}\\.tmp-[0-9a-f]{12}\\.tmp-[0-9a-f]{12}|\\.${name}\\.old-\\d+-\\d+)$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  // A kill between swapInto's two renames leaves no `path` and the previous bundle as `.<name>.old-…`: that
  // is the only copy, so it goes back to its place instead of away (the newest, if several). An .old of a
  // live process is its swap in progress: left alone.
  const isOld = (n: string) => n.startsWith(`.${base}.old-`) && (legacy.test(n) || (n.includes(`.old-${TEMP_TAG}-`) && madeByDeadProcess(n)));
  const olds = names.filter(isOld).sort((a, b) => Number(b.split('-').pop()) - Number(a.split('-').pop()));
  const removed: string[] = [];
  if (
    olds.length > 0 &&
    !(await lstat(resolve(path)).then(
      () => true,
      () => false,
    ))
  ) {
    await rename(join(dir, olds[0]!), resolve(path)).then(
      () => names.splice(names.indexOf(olds[0]!), 1),
      () => undefined,
    );
  }
  for (const n of names) {
    const stamped = n.startsWith(`.${base}.`) && isOld(n) && !legacy.test(n);
    if (!legacy.test(n) && !stamped) continue;
    const p = join(dir, n);
    const st = await lstat(p).catch(() => undefined);
    if (!st || (!stamped && st.mtimeMs >= startedAt) || !(st.isFile() || st.isDirectory())) continue;
    try {
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Not ours to fight over (permissions): the build goes on; the leftover only costs space.
    }
  }
  return [...removed, ...(await sweepDeadTemps(dir))];
}

/** A fresh scratch folder `<parent or $TMPDIR>/<prefix>-vbtmp-<pid>-<start>-XXXXXX`; the caller removes it. */
export async function makeTempDir(prefix: string, parent?: string): Promise<string> {
  const base = parent ?? tmpdir();
  let dir: string;
  try {
    await mkdir(base, { recursive: true });
    dir = await mkdtemp(join(base, `${prefix}-${tempTag()}`));
  } catch (err) {
    // A read-only or missing TMPDIR (a locked-down box) is the user's to fix, not an internal error.
    const e = localWriteError(err, base);
    if (parent === undefined && e instanceof LocalError && e.code === 'WRITE_FAILED') {
      throw new LocalError({
        code: 'WRITE_FAILED',
        message: `cannot make a scratch folder in ${base} (TMPDIR${process.env.TMPDIR ? `=${process.env.TMPDIR}` : ' unset: /tmp'}): ${e.message}`,
        subject: base,
        hint: 'set TMPDIR to a writable folder with room, e.g. TMPDIR=/var/tmp, and run again; nothing was changed',
        cause: err,
      });
    }
    throw e;
  }
  // Known to removeTempsSync: any exit, a second Ctrl-C's forced quit included, removes install's extracted blobs
  // or the dry run's venv.
  track(dir);
  sweepOnce(resolve(base));
  return dir;
}

/** Removes a folder made by makeTempDir. */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  temps.delete(dir);
}

/** Runs `fn` with a fresh scratch folder that is removed afterwards, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>, parent?: string): Promise<T> {
  const dir = await makeTempDir(prefix, parent);
  try {
    return await fn(dir);
  } finally {
    await removeTempDir(dir);
  }
}
