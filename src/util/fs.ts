import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LocalError, errnoCode, localWriteError } from './errors.js';
import { tempDone, tempSibling } from './temp.js';

// Temp names, their cleanup after a kill and scratch folders live in temp.ts; re-exported for the callers.
export { makeTempDir, oldSibling, removeTempDir, sweepDeadTemps, sweepStaleTemps, tempDone, tempSibling, withTempDir } from './temp.js';

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
  for (let p = resolve(path); ;) {
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
 * refused. `durable: false` leaves out the fsync, for a cache entry that a crash may leave short or empty and that
 * its reader then takes for a miss (an fsync on ext4 waits for the journal, and that for every other file's
 * allocated data: a build's small cache writes queued behind its gigabytes).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, o: { durable?: boolean } = {}): Promise<void> {
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
      if (o.durable !== false) await fh.sync();
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
