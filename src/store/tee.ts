import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDone, tempSibling } from '../util/fs.js';
import { type Digest, hexOf } from './digest.js';

/**
 * A folder beside the bundle being built into which a download also writes its bytes, from the same buffers as
 * its cache file (store/writer.ts, fetch/stream-worker.ts): the bundle's own copy of the blob, made without
 * reading the cache file back. A cold nvidia-debian12 build spent 3.6 of its 11 s copying 2.7 GB out of the
 * cache after the downloads: the cache files are written with O_DIRECT, so every copy read them from the disk
 * (bench/results/2026-12-07-apt-tee-s14-dev.md). A bundle still never shares a file with the cache (#14 class 1).
 *
 * A copy is taken only when its download landed: the bytes written here are the ones hashed to the blob's digest
 * as they streamed in, and a write that failed dropped this copy (the download goes on, the blob is then copied
 * out of the cache as before). Anything else (a resumed download, a failed one) is removed. The folder is a temp
 * of this process (util/temp.ts): removed at exit however the build ends, swept by the next run after a kill.
 */
export class TeeFolder {
  private readonly landed = new Set<Digest>();

  private constructor(readonly dir: string) {}

  /**
   * A fresh folder beside `path` (the bundle's --out: the assembly's stage is there too, so a take is a rename).
   * None where a copy out of the cache `cacheRoot` costs nothing (a reflink: Btrfs, XFS), or VAULT_TEE=0.
   */
  static async beside(path: string, cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<TeeFolder | undefined> {
    if (env.VAULT_TEE === '0') return undefined;
    const dir = tempSibling(path);
    try {
      await mkdir(dirname(dir), { recursive: true }); // a first build's bundles/ may not be there yet
      await mkdir(dir);
    } catch {
      tempDone(dir);
      return undefined; // no folder here now: the build copies out of the cache, which names the error if it has one
    }
    const tee = new TeeFolder(dir);
    if (await reflinks(cacheRoot, dir)) {
      await tee.remove();
      return undefined;
    }
    return tee;
  }

  /**
   * Where the download of `d` writes its second copy: a new file each time (O_CREAT | O_EXCL | O_NOFOLLOW, so never a
   * link's target nor a file a stopped attempt's writes could still reach); if anything is there, no copy is written.
   */
  pathOf(d: Digest): string {
    return join(this.dir, hexOf(d));
  }

  /** The download of `d` landed in the cache with its copy here whole: it may be taken. */
  markLanded(d: Digest): void {
    this.landed.add(d);
  }

  /** The copy of `d` is not whole (a failed or resumed download, a write that failed): it goes. */
  async drop(d: Digest): Promise<void> {
    this.landed.delete(d);
    await rm(this.pathOf(d), { force: true });
  }

  /**
   * Moves the landed copy of `d` (`size` bytes) to `to`, read-only as the cache's copies are; false when there is
   * none, or what is there is not that: a plain file of its size with no other link.
   */
  async take(d: Digest, to: string, size: number): Promise<boolean> {
    if (!this.landed.delete(d)) return false;
    const from = this.pathOf(d);
    try {
      const st = await lstat(from);
      if (!st.isFile() || st.nlink !== 1 || st.size !== size) throw new Error('not the copy written');
      await chmod(from, 0o444);
      await rename(from, to);
      return true;
    } catch {
      await rm(from, { force: true }).catch(() => undefined);
      return false; // copied out of the cache instead: that path names its own errors
    }
  }

  /** Removes the folder and what is left in it; never throws (what it could not remove goes when the process exits). */
  async remove(): Promise<void> {
    this.landed.clear();
    try {
      await rm(this.dir, { recursive: true, force: true });
      tempDone(this.dir);
    } catch {
      // Still a temp of this process: util/temp.ts removes it at exit, the next run sweeps it after a kill.
    }
  }
}

/** Whether a file of `from` can be cloned into `to` (FICLONE: a copy shares the extents, nothing is written). */
async function reflinks(from: string, to: string): Promise<boolean> {
  const probe = tempSibling(join(from, 'reflink-probe'));
  try {
    await mkdir(from, { recursive: true });
    await writeFile(probe, 'reflink probe\n');
    await copyFile(probe, join(to, 'reflink-probe'), constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
    await rm(join(to, 'reflink-probe'), { force: true });
    tempDone(probe);
  }
}
