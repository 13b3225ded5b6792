import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LocalError, localWriteError } from './errors.js';

/** A name for a temp sibling of `path`: same folder, so the final rename is atomic. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `path` atomically: temp file in the same folder, fsync, rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw localWriteError(err, path);
  }
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
        message: `cannot make a scratch folder in ${base} (TMPDIR${process.env.TMPDIR ? `=${process.env.TMPDIR}` : ' unset: /tmp'}): ${err instanceof Error ? err.message : String(err)}`,
        subject: base,
        hint: 'set TMPDIR to a writable folder with room, e.g. TMPDIR=/var/tmp, and run again; nothing was changed',
        cause: err,
      });
    }
    throw e;
  }
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
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
