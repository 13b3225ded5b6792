import type { Stats } from 'node:fs';
import { type FileHandle, constants, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tar from 'tar';
import { InterruptedError, localWriteError } from '../util/errors.js';
import { makeDirs, outputTarget, tempDone, tempSibling, walk } from '../util/fs.js';

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
export async function writeDeterministicTar(dir: string, file: string, prefix: string, mtime: Date, signal?: AbortSignal): Promise<void> {
  await (await stageDeterministicTar(dir, file, prefix, mtime, signal)).commit();
}

/**
 * The tar of writeDeterministicTar, written to a temp sibling of `file` (fsynced) and left there until
 * commit(). An abort stops it between chunks and removes the temp file (InterruptedError). A device node or
 * FIFO given as `file` (/dev/stdout) is streamed into directly: there is nothing to rename.
 */
export async function stageDeterministicTar(dir: string, file: string, prefix: string, mtime: Date, signal?: AbortSignal, what?: string): Promise<StagedTar> {
  const target = await outputTarget(file, what);
  const list = (await walk(dir)).map((e) => e.path);
  const dest = target.direct ? target.path : tempSibling(target.path);
  const discard = async () => {
    if (target.direct) return;
    await rm(dest, { force: true });
    tempDone(dest);
  };
  let fh: FileHandle | undefined;
  try {
    if (signal?.aborted) throw new InterruptedError();
    if (!target.direct) await makeDirs(dirname(dest));
    // Straight into a device: no O_CREAT (a vanished node must not become a regular file), no O_TRUNC.
    fh = await open(dest, target.direct ? constants.O_WRONLY : 'wx', 0o644);
    // Leaving this loop early pauses node-tar, which then stops reading (backpressure). It is not destroyed:
    // a destroyed Pack lets its current entry read its file to the end, which would hold up the exit.
    for await (const chunk of tar.c({ ...deterministic(dir, mtime), prefix }, list) as unknown as AsyncIterable<Uint8Array>) {
      if (signal?.aborted) throw new InterruptedError();
      await fh.write(chunk);
    }
    if (!target.direct) await fh.sync();
    await fh.close();
    fh = undefined;
  } catch (err) {
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
        tempDone(dest);
      } catch (err) {
        await discard();
        throw localWriteError(err, file, what);
      }
    },
  };
}

/**
 * The same deterministic tar of `list` (paths relative to `dir`, in this order), as a stream of bytes. An
 * abort ends it between chunks with InterruptedError (node-tar is then paused, and reads no further).
 */
export async function* deterministicTarStream(dir: string, list: string[], mtime: Date, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  // node-tar refuses an empty list; a delta whose blobs all come from its base still gets a valid (empty) tar:
  // the two zero blocks that end an archive.
  if (list.length === 0) {
    yield new Uint8Array(1024);
    return;
  }
  for await (const chunk of tar.c(deterministic(dir, mtime), list) as unknown as AsyncIterable<Uint8Array>) {
    if (signal?.aborted) throw new InterruptedError();
    yield chunk;
  }
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
