import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hashFile } from '../../store/store.js';
import { localWriteError } from '../../util/errors.js';
import { tempSibling } from '../../util/fs.js';
import type { BoxCtx, InstallReport, Locked } from '../source.js';
import type { SpaceNeed } from '../../util/space.js';

/**
 * Copies each file that has an install destination into place (atomically), unless it is already there. The copy
 * is a reflink where the file system has one (a file of its own, its extents shared copy-on-write: no bytes
 * written twice, as from a pulled bundle's cache), else copy_file_range in the kernel.
 */
export async function installFiles(items: readonly Locked[], ctx: BoxCtx): Promise<InstallReport> {
  const report: InstallReport = { kind: 'file', changed: [], unchanged: [] };
  for (const item of items) {
    const dest = item.meta?.dest;
    if (!dest) continue;
    const have = await hashFile(dest).catch(() => undefined);
    if (have?.digest === item.digest) {
      report.unchanged.push(dest);
      continue;
    }
    report.changed.push(dest);
    if (ctx.dryRun) continue;
    const tmp = tempSibling(dest);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await placeBlob(ctx, item, tmp);
      await chmod(tmp, parseInt(item.meta?.mode ?? '0644', 8));
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw localWriteError(err, dest);
    }
  }
  return report;
}

/** The blob of `item` at `tmp`: moved there when install may take it (same file system), else copied. */
async function placeBlob(ctx: BoxCtx, item: Locked, tmp: string): Promise<void> {
  if (ctx.take?.(item)) {
    const moved = await rename(ctx.blobPath(item), tmp).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EXDEV') return false;
        throw e;
      },
    );
    if (moved) return;
  }
  await copyFile(ctx.blobPath(item), tmp, constants.COPYFILE_FICLONE);
}

// eslint-disable-next-line @typescript-eslint/require-await -- implements the async Source interface (space)
export async function fileSpace(items: readonly Locked[], _ctx: BoxCtx): Promise<SpaceNeed[]> {
  return items.filter((i) => i.meta?.dest).map((i) => ({ path: i.meta!.dest!, bytes: i.size, what: `file ${i.name}` }));
}
