import type { Stats } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as tar from 'tar';
import { localWriteError } from '../util/errors.js';
import { tempSibling, walk } from '../util/fs.js';

/**
 * Writes `dir` as a tar whose bytes depend only on the files' names and contents: entries in byte order, one
 * fixed mtime, uid/gid 0, modes normalised to 0644/0755 (0755 kept for executables), no atime/ctime. All
 * entries sit under `prefix/`. Atomic: a temp file renamed into place.
 */
export async function writeDeterministicTar(dir: string, file: string, prefix: string, mtime: Date): Promise<void> {
  const list = (await walk(dir)).map((e) => e.path);
  const tmp = tempSibling(file);
  try {
    await tar.c({ ...deterministic(dir, mtime), file: tmp, prefix }, list);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw localWriteError(err, file);
  }
}

/** The same deterministic tar of `list` (paths relative to `dir`, in this order), as a stream of bytes. */
export function deterministicTarStream(dir: string, list: string[], mtime: Date): AsyncIterable<Uint8Array> {
  return tar.c(deterministic(dir, mtime), list) as unknown as AsyncIterable<Uint8Array>;
}

function deterministic(dir: string, mtime: Date) {
  return {
    cwd: dir,
    portable: true,
    mtime,
    // node-tar reads up to 16 MiB per file, 4 files at a time; 1 MiB keeps build --tar under 200 MB.
    maxReadSize: 1 << 20,
    noDirRecurse: true,
    filter: (_p: string, st: Stats | tar.ReadEntry) => {
      if ('isDirectory' in st && typeof st.isDirectory === 'function') {
        const exec = st.isDirectory() || (st.mode & 0o100) !== 0;
        st.mode = (st.mode & ~0o7777) | (exec ? 0o755 : 0o644);
      }
      return true;
    },
  };
}
