import { type BigIntStats, constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tempDone, tempSibling } from '../util/temp.js';
import { hexOf, type Digest } from './digest.js';

/**
 * Proofs of cache blobs: what a blob's file was (device, inode, size, mtime and ctime to the nanosecond) when its
 * bytes, read from that very file, last hashed to its name. A later build that finds the file unchanged copies
 * it out without hashing it again (issue #14: a warm rebuild re-hashed every byte).
 *
 * Why ctime proves the bytes unchanged: the kernel sets a file's ctime to the current time on every write, every
 * truncate, chmod, rename and utimes, and user space cannot set it (utimensat sets atime and mtime, and moves
 * ctime to now); a file put in the blob's place has another inode. So an in-place edit, even one that keeps the
 * size and puts the mtime back (touch -d), moves ctime, and the blob is hashed again (copyBlobOut).
 *
 * One subtlety (git's "racy clean" case): file times come from a clock that ticks coarsely (a jiffy, 1-10 ms; a
 * second or two on some file systems), so a write in the same tick as the blob's last change would keep its
 * ctime. A proof is therefore recorded only for a blob whose ctime is older than a mark the same file system
 * stamped before the hashing copy began (`clockMark`): any write after the mark gets a later ctime. File systems
 * whose times have no sub-second part get no proofs at all (every copy is hashed), nor do file systems not known
 * to keep ctime locally (a network file system's client may answer stat from its attribute cache while another
 * host writes the file; FUSE keeps what its daemon says): see LOCAL_FS.
 *
 * A single-stream download (store.put) hashes the bytes as they arrive, not the bytes its file holds; it is a
 * proof only because that partial file is written by this process alone (partial-lock.ts: another build sharing
 * the cache writes a file of its own) and every write is checked whole (writer.ts; fsynced before the rename):
 * `recordStreamed` then records it after the rename (see there). A ranged download (ranged.ts) is
 * different: its whole file is read back and hashed after every part is written, synced and closed, as a copy's
 * hash is; `recordLanded` gives it a proof under the same ctime-before-mark rule, with one step more (the
 * rename into blobs/ moves ctime; see there).
 *
 * What a proof cannot see (residual risks, said so): the clock set back to the exact tick of the blob's ctime
 * before an edit; writes that bypass the file system (raw writes to the block device, debugfs); bit rot below
 * the file system (a disk that returns other bytes without an error): that is what `vault-bundle cache verify`
 * is for; and anyone who can write the cache can also write its proofs (as they could replace the tool itself):
 * proofs guard against accidents and edits, not against the cache's owner.
 */

/** The fields of a blob's stat that a proof pins, as decimal strings (bigint nanoseconds do not fit a number). */
export interface Proof {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

const PROOFS_DIR = 'proofs';

/**
 * statfs f_type of the local file systems whose ctime the kernel keeps as above: ext2/3/4, XFS, Btrfs, tmpfs,
 * bcachefs, F2FS, ZFS, overlayfs. Elsewhere (NFS, SMB, FUSE, 9p, …) no proof is recorded and every copy is hashed.
 */
const LOCAL_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xca451a4e, 0xf2f52010, 0x2fc12fc1, 0x794c7630]);
const CLOCK = '.clock';

function proofPath(root: string, d: Digest): string {
  return join(root, PROOFS_DIR, hexOf(d));
}

/** A blob's stat with nanosecond times. */
export function statBlob(path: string): Promise<BigIntStats> {
  return stat(path, { bigint: true });
}

export function proofOf(st: BigIntStats): Proof {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

/** The same file with the same bytes as far as its stat can tell without ctime (device, inode, size, mtime): what a rename or a link count change leaves as it was. */
export function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

export function sameProof(a: Proof, b: Proof): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The proof recorded for `d`, if any (a damaged or unreadable one counts as none: the blob is hashed). */
export async function readProof(root: string, d: Digest): Promise<Proof | undefined> {
  try {
    const p = JSON.parse(await readFile(proofPath(root, d), 'utf8')) as Partial<Proof>;
    if ([p.dev, p.ino, p.size, p.mtimeNs, p.ctimeNs].every((v) => typeof v === 'string' && /^\d+$/.test(v))) return p as Proof;
  } catch {
    // none
  }
  return undefined;
}

/**
 * Records that the blob `d`, whose stat before and after its bytes were hashed was `st`, hashed to its name,
 * when `st` is older than `mark` (see above). Best effort: a cache that cannot take the proof gets its blobs
 * hashed again next time. Written atomically (temp + rename), never fsynced: a proof lost in a crash costs a hash.
 */
export async function recordProof(root: string, d: Digest, st: BigIntStats, mark: bigint | undefined): Promise<boolean> {
  if (mark === undefined || !(st.ctimeNs < mark) || coarseTimes(st)) return false;
  const to = proofPath(root, d);
  const tmp = `${to}.${process.pid}.tmp`;
  try {
    await mkdir(join(root, PROOFS_DIR), { recursive: true });
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    try {
      await fh.writeFile(JSON.stringify(proofOf(st)));
    } finally {
      await fh.close();
    }
    await rename(tmp, to);
    return true;
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
    return false;
  }
}

/** Forgets the proof of `d` (its blob was moved aside or removed). */
export async function dropProof(root: string, d: Digest): Promise<void> {
  await rm(proofPath(root, d), { force: true }).catch(() => undefined);
}

/**
 * Stamps the cache's file system clock now: the ctime of a file written in the proofs folder. A blob whose ctime
 * is older than this mark changed last in an earlier tick, so any write to it from now on moves its ctime. The
 * file system's own clock is used (not this process's), so a network file system's skewed clock cannot fool it.
 * Undefined where the cache cannot be written or is not on a LOCAL_FS (no proofs are recorded then).
 */
export async function clockMark(root: string): Promise<bigint | undefined> {
  try {
    await mkdir(join(root, PROOFS_DIR), { recursive: true });
  } catch {
    return undefined;
  }
  return stampIn(join(root, PROOFS_DIR), `${CLOCK}.${process.pid}`);
}

/** The ctime of a file written (then removed) in `dir` now: that file system's clock; undefined where it is not a LOCAL_FS or cannot be written. */
async function stampIn(dir: string, name: string): Promise<bigint | undefined> {
  const path = join(dir, name);
  try {
    if (!LOCAL_FS.has((await statfs(dir)).type)) return undefined;
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    try {
      await fh.write('.');
      return (await fh.stat({ bigint: true })).ctimeNs;
    } finally {
      await fh.close();
      await rm(path, { force: true });
    }
  } catch {
    return undefined;
  }
}

/**
 * A mark of the clock of the file system holding `dir` (not the cache's: a bundle folder may lie elsewhere), once
 * it has passed `ns`; written as a temp name of this process there (util/temp.ts: a kill leaves it to the sweep).
 */
export async function clockMarkAt(dir: string, ns: bigint): Promise<bigint | undefined> {
  const name = basename(tempSibling(join(dir, 'clock')));
  try {
    return await passing(ns, () => stampIn(dir, name));
  } finally {
    tempDone(join(dir, name));
  }
}

/** The first of `stamp`'s marks past `ns`, a tick or so later; undefined where it gives none or the clock does not move on within ~50 ms. */
async function passing(ns: bigint, stamp: () => Promise<bigint | undefined>): Promise<bigint | undefined> {
  for (let i = 0; i < 50; i++) {
    const m = await stamp();
    if (m === undefined || m > ns) return m;
    await new Promise((r) => setTimeout(r, 1));
  }
  return undefined;
}

/**
 * A mark (clockMark) taken once the cache's clock has passed `ns` (a file's ctime): a few ms at most (one tick);
 * undefined where no mark can be taken or the clock does not move on within ~50 ms.
 */
export function markAfter(root: string, ns: bigint): Promise<bigint | undefined> {
  return passing(ns, () => clockMark(root));
}

/**
 * Records the proof of a blob that a download has just read back whole from its partial file and hashed to `d`
 * (`before` and `after`: the partial file's stat around that hash; `mark`: stamped after its last change and
 * before the hash began), then renamed to `final`. The ctime-before-mark rule holds for the hash as for a copy's
 * (`before` equal to `after`, older than `mark`). The rename itself moves ctime, so the blob's final stat is
 * checked with mtime as the witness instead: every write from the mark on sets mtime to a time at or after the
 * mark, which `before`'s mtime is older than; so the landed file must have `before`'s device, inode, size and
 * mtime to the nanosecond. Then, once the clock has passed the landed ctime (a new mark), the file must still be
 * as it landed, and that stat is the proof: any later write or utimes moves its ctime. The one thing this cannot
 * see beyond proof.ts's residual risks: an edit that writes and then sets the mtime back, made in the
 * microseconds between the hash's end and the rename (the cache's owner at work, which proofs do not guard against).
 */
export async function recordLanded(
  root: string,
  d: Digest,
  final: string,
  before: BigIntStats,
  after: BigIntStats,
  mark: bigint | undefined,
): Promise<boolean> {
  if (mark === undefined || !sameProof(proofOf(before), proofOf(after)) || !(before.ctimeNs < mark && before.mtimeNs < mark)) return false;
  const landed = await statBlob(final).catch(() => undefined);
  if (!landed || !sameFile(landed, before)) return false;
  const now = await markAfter(root, landed.ctimeNs);
  const again = await statBlob(final).catch(() => undefined);
  if (!again || !sameProof(proofOf(landed), proofOf(again))) return false;
  return recordProof(root, d, again, now);
}

/** A blob a single-stream put hashed as it streamed into a partial file only it wrote, then renamed to `final` (`before`: that file's stat before the rename). */
export interface Landed {
  digest: Digest;
  final: string;
  before: BigIntStats;
}

/**
 * Records the proofs of blobs that single-stream downloads landed (store.ts putInto). Their bytes were hashed
 * as they were written, and the partial file was this process's alone (partial-lock.ts: no other build writes
 * it), so the hash is of the bytes the file holds; what is left is the step recordLanded takes after a rename:
 * the landed file must be the one that was written (`before`'s device, inode, size and mtime to the nanosecond:
 * the rename moved ctime), and once the clock has passed every landed ctime (one mark for all) it must still
 * be as it landed; that stat is the proof. Beyond proof.ts's residual risks this trusts what an exclusive
 * writer cannot see: an edit of the partial file by hand while it was being written, which the cache's owner
 * alone can make. Returns how many proofs were recorded.
 */
export async function recordStreamed(root: string, landed: readonly Landed[]): Promise<number> {
  const s = await settle(
    landed,
    (l) => l.final,
    (l) => l.before,
    (ns) => markAfter(root, ns),
  );
  if (!s) return 0;
  const done = await Promise.all(s.firm.map(({ item, st }) => recordProof(root, item.digest, st, s.mark)));
  return done.filter(Boolean).length;
}

/**
 * Of files each expected to be as `before` left it (sameFile: a rename or a link count change moves only ctime)
 * and passing `keep`, those that are, and that stand still across one mark (`markAt`) taken once the clock has
 * passed the latest of their ctimes: each with that stat, a proof under the mark. Undefined where none is left or
 * no mark can be taken.
 */
export async function settle<T>(
  items: readonly T[],
  path: (item: T) => string,
  before: (item: T) => BigIntStats,
  markAt: (ns: bigint) => Promise<bigint | undefined>,
  keep: (st: BigIntStats) => boolean = () => true,
): Promise<{ mark: bigint; firm: { item: T; st: BigIntStats }[] } | undefined> {
  const statOf = (item: T) => statBlob(path(item)).catch(() => undefined);
  const seen = await Promise.all(items.map(async (item) => ({ item, st: await statOf(item) })));
  const same = seen.filter((f): f is { item: T; st: BigIntStats } => f.st !== undefined && keep(f.st) && sameFile(f.st, before(f.item)));
  if (same.length === 0) return undefined;
  const mark = await markAt(same.reduce((m, f) => (f.st.ctimeNs > m ? f.st.ctimeNs : m), 0n));
  if (mark === undefined) return undefined;
  const again = await Promise.all(same.map(async (f) => ({ ...f, again: await statOf(f.item) })));
  const firm = again.filter((f) => f.again !== undefined && sameProof(proofOf(f.st), proofOf(f.again))).map(({ item, st }) => ({ item, st }));
  return { mark, firm };
}

/** Times without a sub-second part: a file system that keeps whole seconds (or two), where a tick is too long. */
export function coarseTimes(st: BigIntStats): boolean {
  return st.ctimeNs % 1_000_000_000n === 0n && st.mtimeNs % 1_000_000_000n === 0n;
}
