import { constants } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { IntegrityError } from '../util/errors.js';
import type { Digest } from './digest.js';
import { clockMark, proofOf, readProof, recordProof, sameProof, statBlob } from './proof.js';
import { type Store, hashFile } from './store.js';

/** How a blob was proven as it was copied out: by its recorded proof (ctime unchanged) or by hashing the copy. */
export type CopyProof = 'unchanged' | 'hashed';

/**
 * Puts the cached blob `d` at `to` as a file of its own (never a hard link: a bundle's bytes changed in place,
 * by bit rot or an edit, must not change the cache and every other bundle made from it), and proves it.
 *
 * The copy is a reflink where the file system has one (btrfs, XFS, bcachefs: FICLONE shares the extents
 * copy-on-write, so it costs no room and no bytes moved, and a later write to either file unshares them), else
 * copy_file_range/sendfile in the kernel.
 *
 * Proof, the cheap way: the cache file is stat'ed before and after the copy; if both equal the proof recorded
 * when its bytes last hashed to `d` (device, inode, size, mtime and ctime to the nanosecond: see proof.ts for
 * why an in-place edit cannot keep them), the copy holds those bytes and is not hashed. Otherwise the copy itself
 * is hashed: what is published is what was proven. A match records a proof (when the file stood still during
 * the copy and its ctime is older than `mark`, the cache's clock stamped before the copies began), so the next
 * build copies it without hashing. A mismatch moves the cache entry aside (the next build fetches it anew),
 * removes the copy and throws CACHE_CORRUPT.
 */
export async function copyBlobOut(
  store: Store,
  d: Digest,
  to: string,
  mark?: bigint,
  hash: (path: string) => Promise<Digest> = hashDigest,
): Promise<CopyProof> {
  const from = store.path(d);
  const [proof, before] = await Promise.all([readProof(store.root, d), statBlob(from).catch(() => undefined)]);
  const proven = proof !== undefined && before !== undefined && sameProof(proof, proofOf(before));
  // A blob that changed in the mark's own tick (one just downloaded) can still be given a proof by a new mark,
  // stamped before its bytes are read: a write before the mark is in what is hashed, a write after moves ctime.
  if (!proven && before !== undefined && (mark === undefined || before.ctimeNs >= mark)) mark = await clockMark(store.root);
  await copyFile(from, to, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
  const after = await statBlob(from).catch(() => undefined);
  const still = before !== undefined && after !== undefined && sameProof(proofOf(before), proofOf(after));
  if (still && proven) return 'unchanged';
  const found = await hash(to);
  if (found === d) {
    if (still) await recordProof(store.root, d, before, mark);
    return 'hashed';
  }
  throw await refuseCopy(store, d, found, to);
}

const hashDigest = async (path: string): Promise<Digest> => (await hashFile(path)).digest;

/** A copy of the cached blob `d` at `to` hashed to `found`: the copy goes, the cache entry is moved aside; the error to throw. */
async function refuseCopy(store: Store, d: Digest, found: Digest, to: string): Promise<IntegrityError> {
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
