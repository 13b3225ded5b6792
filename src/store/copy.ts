import { constants } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { IntegrityError } from '../util/errors.js';
import type { Digest } from './digest.js';
import { type Store, hashFile } from './store.js';

/**
 * Puts the cached blob `d` at `to` as a file of its own (never a hard link: a bundle's bytes changed in place,
 * by bit rot or an edit, must not change the cache and every other bundle made from it), and proves it.
 *
 * The copy is a reflink where the file system has one (btrfs, XFS, bcachefs: FICLONE shares the extents
 * copy-on-write, so it costs no room and no bytes moved, and a later write to either file unshares them), else
 * copy_file_range/sendfile in the kernel. Then the copy itself is hashed: what is published is what was
 * proven, whatever the cache held (a cheaper check such as size or mtime is fooled by an in-place edit or bit
 * rot, which keep both). A mismatch moves the cache entry aside (so the next build fetches it anew), removes
 * the copy and throws CACHE_CORRUPT.
 */
export async function copyBlobOut(store: Store, d: Digest, to: string): Promise<void> {
  await copyFile(store.path(d), to, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
  const found = await hashFile(to);
  if (found.digest !== d) throw await refuseCopy(store, d, found.digest, to);
}

/** A copy of the cached blob `d` at `to` hashed to `found`: the copy goes, the cache entry is moved aside; the error to throw. */
export async function refuseCopy(store: Store, d: Digest, found: Digest, to: string): Promise<IntegrityError> {
  await rm(to, { force: true });
  const aside = await store.quarantine(d);
  return new IntegrityError({
    code: 'CACHE_CORRUPT',
    message: `the cached blob ${d} is damaged (it hashes to ${found}): ${aside ? `moved aside to ${aside}` : 'removed'}; nothing was published`,
    subject: store.path(d),
    expected: d,
    found,
    hint: 'run the build again: it fetches that blob anew ("vault-bundle cache verify" checks the whole cache)',
  });
}
