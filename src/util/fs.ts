import { randomBytes } from 'node:crypto';
import { constants, rmSync } from 'node:fs';
import { access, lstat, mkdir, mkdtemp, open, readdir, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { LocalError, errnoCode, localWriteError } from './errors.js';

/**
 * Temp names handed out in this process. A second Ctrl-C exits at once (process.exit): removeTempsSync() then
 * removes whichever of them still exist, so even a forced quit leaves nothing half-written. A name that was
 * renamed into place no longer exists and is skipped (the names are random: they never name a real file).
 */
const temps = new Set<string>();

/** A name for a temp sibling of `path`: same folder, so the final rename is atomic. */
export function tempSibling(path: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  temps.add(tmp);
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
      // Best effort on the way out; a rerun of build sweeps what is left (sweepStaleTemps).
    }
  }
  temps.clear();
}

/** Where a write to a path goes once its symbolic links are followed. */
export interface OutputTarget {
  /** The path itself, or the file its links lead to (which may not exist yet). */
  path: string;
  /**
   * An existing device node, FIFO or socket (/dev/null, /dev/stdout on a pipe): written straight into, since a
   * temp file renamed over it would replace the node itself; atomicity does not apply to a stream.
   */
  direct: boolean;
}

/**
 * `path` with its symbolic links followed: its real path when it exists, else where a dangling link leads
 * (or the path itself). A folder given as a link is then replaced where it really is, and the link stays.
 */
export async function followLinks(path: string): Promise<string> {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return await realpath(p);
    } catch {
      const link = await readlink(p).catch(() => undefined);
      if (link === undefined) return p;
      p = resolve(dirname(p), link);
    }
  }
  return p;
}

/**
 * Resolves `path` for writing: a symlink is followed (to a file that may not exist yet, as the shell's `>`
 * does), so the link stays and its target gets the bytes; a folder is refused; a special file is written
 * straight into.
 */
export async function outputTarget(path: string, what?: string): Promise<OutputTarget> {
  let p = resolve(path);
  for (let hops = 0; ; hops++) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw localWriteError(err, path, what);
      // Nothing there, or a dangling symlink: then its target is what gets created.
      const link = await readlink(p).catch(() => undefined);
      if (link === undefined) return { path: p, direct: false };
      if (hops >= 40) throw localWriteError(Object.assign(new Error('too many symbolic links'), { code: 'ELOOP' }), path, what);
      p = resolve(dirname(p), link);
      continue;
    }
    if (st.isDirectory()) throw localWriteError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path, what);
    if (!st.isFile()) return { path: p, direct: true };
    // realpath may fail for a /proc magic link to a deleted file: writing straight into it is the safe choice.
    return realpath(p).then(
      (real) => ({ path: real, direct: false }),
      () => ({ path: p, direct: true }),
    );
  }
}

/**
 * `mkdir -p` that cannot spin: Node 20's recursive mkdir retries forever (100% CPU) where mkdir fails with
 * ENOENT under a parent that exists, as procfs and sysfs answer. Each missing folder is made from the nearest
 * existing one down, and the first refusal is thrown as it is.
 */
export async function makeDirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(path); ; ) {
    try {
      if ((await stat(p)).isDirectory()) break;
      throw Object.assign(new Error(`not a directory, mkdir '${p}'`), { code: 'ENOTDIR' });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      missing.push(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
    }
  }
  for (const d of missing.reverse()) {
    await mkdir(d).catch((err: unknown) => {
      if (errnoCode(err) !== 'EEXIST') throw err;
    });
  }
}

/**
 * Writes `data` to `path` atomically: temp file in the same folder, fsync, rename. A symlink keeps pointing
 * where it did (its target is replaced); a device node or FIFO is written into, never replaced; a folder is
 * refused.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const target = await outputTarget(path);
  if (target.direct) {
    try {
      // No O_CREAT: if the node vanished since, this fails instead of leaving a regular file in its place.
      const fh = await open(target.path, constants.O_WRONLY);
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw localWriteError(err, path);
    }
    return;
  }
  const tmp = tempSibling(target.path);
  try {
    await makeDirs(dirname(target.path));
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target.path);
    tempDone(tmp);
  } catch (err) {
    await rm(tmp, { force: true });
    tempDone(tmp);
    throw localWriteError(err, path);
  }
}

/**
 * Fails fast, before anything long runs, when `path` could not be created: the nearest folder on its way
 * that exists must be a folder this process may write into (a file in the way, a read-only filesystem and
 * missing permissions are each named). `what` says which option gave the path.
 */
export async function checkWritableFolderOf(path: string, what: string): Promise<void> {
  const full = resolve(path);
  let dir = dirname(full);
  for (;;) {
    try {
      const st = await stat(dir);
      if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      await access(dir, constants.W_OK | constants.X_OK);
      return;
    } catch (err) {
      const up = dirname(dir);
      if (errnoCode(err) === 'ENOENT' && up !== dir) {
        dir = up;
        continue;
      }
      const e = localWriteError(err, full, what);
      throw new LocalError({
        code: e.code === 'NO_SPACE' ? 'NO_SPACE' : 'WRITE_FAILED',
        message: `${e.message}${dir === dirname(full) ? '' : ` (at ${dir})`}`,
        subject: full,
        hint: `${e.hint ?? 'choose another path'}; nothing was fetched or written`,
        cause: err,
      });
    }
  }
}

/**
 * Removes what an earlier run of this tool that was killed (SIGKILL, a second Ctrl-C, a power cut) left
 * beside `path`: only names of the exact forms our temp and swap helpers make for that very path
 * (`.<name>.tmp-<12 hex>`, the nested `..<name>.tmp-<hex>.tmp-<hex>`, `.<name>.old-<pid>-<ms>`), and only
 * those last changed before this process started, so a run in progress elsewhere keeps its files.
 * Returns the paths removed.
 */
export async function sweepStaleTemps(path: string, startedAt = performance.timeOrigin): Promise<string[]> {
  const dir = dirname(resolve(path));
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const ours = new RegExp(`^(?:\\.${name}\\.tmp-[0-9a-f]{12}|\\.\\.${name}\\.tmp-[0-9a-f]{12}\\.tmp-[0-9a-f]{12}|\\.${name}\\.old-\\d+-\\d+)$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  // A kill between swapInto's two renames leaves no `path` and the previous bundle as `.<name>.old-…`: that
  // is the only copy, so it goes back to its place instead of away (the newest, if several).
  const olds = names.filter((n) => ours.test(n) && n.startsWith(`.${basename(path)}.old-`)).sort((a, b) => Number(b.split('-').pop()) - Number(a.split('-').pop()));
  if (olds.length > 0 && !(await lstat(resolve(path)).then(() => true, () => false))) {
    await rename(join(dir, olds[0]!), resolve(path)).then(
      () => names.splice(names.indexOf(olds[0]!), 1),
      () => undefined,
    );
  }
  for (const n of names) {
    if (!ours.test(n)) continue;
    const p = join(dir, n);
    const st = await lstat(p).catch(() => undefined);
    if (!st || st.mtimeMs >= startedAt || !(st.isFile() || st.isDirectory())) continue;
    try {
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Not ours to fight over (permissions): the build goes on; the leftover only costs space.
    }
  }
  return removed;
}

/** Runs `fn` with a fresh scratch folder that is removed afterwards, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>, parent?: string): Promise<T> {
  const base = parent ?? (await import('node:os')).tmpdir();
  let dir: string;
  try {
    await mkdir(base, { recursive: true });
    dir = await mkdtemp(join(base, `${prefix}-`));
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
  // Known to removeTempsSync: a second Ctrl-C (a forced quit) still removes install's extracted blobs or the
  // dry run's venv.
  temps.add(dir);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
    temps.delete(dir);
  }
}

export interface WalkEntry {
  /** Path relative to the walked root, with '/' separators. */
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
}

/** Lists everything under `root` (not following symlinks), sorted by byte order of the relative path. */
export async function walk(root: string): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  async function visit(rel: string): Promise<void> {
    const entries = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push({ path: p, kind: 'dir' });
        await visit(p);
      } else if (e.isFile()) out.push({ path: p, kind: 'file' });
      else if (e.isSymbolicLink()) out.push({ path: p, kind: 'symlink' });
      else out.push({ path: p, kind: 'other' });
    }
  }
  await visit('');
  return out.sort((a, b) => byteCompare(a.path, b.path));
}

/** Byte-order comparison (what `LC_ALL=C sort` does), never locale-dependent. */
export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await (await import('node:fs/promises')).lstat(path);
    return true;
  } catch {
    return false;
  }
}
