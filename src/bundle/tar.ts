import type { Stats } from 'node:fs';
import { type FileHandle, constants, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tar from 'tar';
import { localWriteError } from '../util/errors.js';
import { outputTarget, tempSibling, walk } from '../util/fs.js';

/** A tar written in full but not yet in place: build renames it in together with the bundle folder. */
export interface StagedTar {
  /** Where it ends up (a symlink's target: the link stays). */
  path: string;
  /** Renames it into place (nothing to do when it went straight into a device or FIFO). */
  commit(): Promise<void>;
  /** Removes it (a failure or Ctrl-C after it was written). */
  discard(): Promise<void>;
}

/**
 * Writes `dir` as a tar whose bytes depend only on the files' names and contents: entries in byte order, one
 * fixed mtime, uid/gid 0, modes normalised to 0644/0755 (0755 kept for executables), no atime/ctime. All
 * entries sit under `prefix/`. Atomic: a temp file renamed into place.
 */
export async function writeDeterministicTar(dir: string, file: string, prefix: string, mtime: Date): Promise<void> {
  await (await stageDeterministicTar(dir, file, prefix, mtime)).commit();
}

/**
 * The tar of writeDeterministicTar, written to a temp sibling of `file` (fsynced) and left there until
 * commit(). A device node or FIFO given as `file` (/dev/stdout) is streamed into directly: there is nothing
 * to rename.
 */
export async function stageDeterministicTar(dir: string, file: string, prefix: string, mtime: Date, what?: string): Promise<StagedTar> {
  const target = await outputTarget(file, what);
  const list = (await walk(dir)).map((e) => e.path);
  const dest = target.direct ? target.path : tempSibling(target.path);
  const discard = async () => {
    if (target.direct) return;
    await rm(dest, { force: true });
  };
  const pack = tar.c({ ...deterministic(dir, mtime), prefix }, list);
  let fh: FileHandle | undefined;
  try {
    if (!target.direct) await mkdir(dirname(dest), { recursive: true });
    // Straight into a device: no O_CREAT (a vanished node must not become a regular file), no O_TRUNC.
    fh = await open(dest, target.direct ? constants.O_WRONLY : 'wx', 0o644);
    for await (const chunk of pack as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
    }
    if (!target.direct) await fh.sync();
    await fh.close();
    fh = undefined;
  } catch (err) {
    // Stops node-tar reading the remaining files (it would hold their descriptors and buffer their bytes).
    pack.destroy();
    await fh?.close().catch(() => undefined);
    await discard();
    throw localWriteError(err, file, what);
  }
  return {
    path: target.path,
    discard,
    commit: async () => {
      if (target.direct) return;
      try {
        await rename(dest, target.path);
      } catch (err) {
        await discard();
        throw localWriteError(err, file, what);
      }
    },
  };
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
