/**
 * A rebuild over its own output takes the old bundle's blobs as they are (hard links into the stage) instead of
 * copying them out of the cache again: a warm rebuild of a 2 GiB bundle spent most of its time copying 2 GiB and
 * then freeing the old 2 GiB (issue #14's warm-rebuild figure). Inodes are shared only between the old and the new
 * bundle, for the length of the build (the old one is removed at the swap), and never with the cache (class 1).
 *
 * A blob is taken only when it is proven unchanged since this tool placed it, as the cache's blobs are (proof.ts):
 * each build records, in the cache, the stat (device, inode, size, mtime and ctime to the nanosecond) of every file
 * it placed in its bundle once the bundle is in place, its only link and its ctime older than a clock mark taken
 * on the bundle's own file system afterwards. The next build takes a file only if its stat is that record and it
 * has one link (a user's own hard link elsewhere would otherwise come to share the new bundle's inode). The link
 * itself moves ctime, so the linked file is checked with mtime as the witness (device, inode, size and mtime the
 * same, two links), as proof.ts's recordLanded does after a rename; what that cannot see is an edit made in the
 * microseconds between the stat and the link that also sets the mtime back (the owner at work, which proofs do not
 * guard against). Anything else (no record, another stat, a second link, another file system) is copied out of
 * the cache as before. Bit rot below the file system is as invisible here as in the cache: verify finds it.
 */
import type { BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { link, lstat, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Digest } from './digest.js';
import { type Proof, clockMarkAt, coarseTimes, proofOf, sameFile, sameProof, settle, statBlob } from './proof.js';
import { writeFileAtomic } from '../util/fs.js';

/** A placed file's record: its digest and its stat once in place (see above). */
type Placed = Proof & { digest: Digest };

const PLACED_DIR = 'placed';

/** The records of one bundle folder, in the cache, by the folder's absolute path. */
function recordsPath(cacheRoot: string, out: string): string {
  return join(cacheRoot, PLACED_DIR, `${createHash('sha256').update(resolve(out)).digest('hex')}.json`);
}

/** The files of the bundle at `out` that can be linked into its successor's stage (`take`), by their path in the bundle. */
export class OldBundle {
  private constructor(
    private readonly out: string,
    private readonly records: ReadonlyMap<string, Placed>,
  ) {}

  /** The old bundle at `out` with its records; none (an empty one) where there is no bundle or no record. */
  static async open(cacheRoot: string, out: string): Promise<OldBundle> {
    const records = new Map<string, Placed>();
    try {
      const saved = JSON.parse(await readFile(recordsPath(cacheRoot, out), 'utf8')) as { out?: unknown; files?: Record<string, Partial<Placed>> };
      if (saved.out === resolve(out) && saved.files && typeof saved.files === 'object') {
        for (const [rel, p] of Object.entries(saved.files)) if (isPlaced(p)) records.set(rel, p);
      }
    } catch {
      // No record (a first build, another tool's folder, a damaged record): every blob is copied.
    }
    return new OldBundle(out, records);
  }

  /**
   * Links the old bundle's `rel` to `to` when it is the file this tool placed there with `digest`, unchanged since;
   * false (nothing left at `to`) otherwise, and the caller copies it out of the cache.
   */
  async take(rel: string, digest: Digest, to: string): Promise<boolean> {
    const rec = this.records.get(rel);
    if (!rec || rec.digest !== digest) return false;
    const from = join(this.out, rel);
    const st = await lstat(from, { bigint: true }).catch(() => undefined);
    if (!st?.isFile() || st.nlink !== 1n || !sameProof(proofOf(st), rec)) return false;
    try {
      await link(from, to);
    } catch {
      return false; // another file system, a file system without hard links, a full link count: copied instead
    }
    const linked = await statBlob(to).catch(() => undefined);
    if (linked && linked.nlink === 2n && sameFile(linked, st)) return true;
    await rm(to, { force: true });
    return false;
  }
}

/** A file placed in the stage at `rel` with `digest`, and its stat right after it was placed and proven. */
export interface PlacedFile {
  rel: string;
  digest: Digest;
  st: BigIntStats;
}

/**
 * Records the files placed in the bundle now at `out` (after the swap, the old bundle gone), for the next build's
 * OldBundle. A file is recorded only if it is the one placed (device, inode, size and mtime as then), has one link,
 * and stands still across a clock mark taken on its own file system after its ctime. Best effort: a record that
 * cannot be written costs the next build its copies, nothing more.
 */
export async function recordPlaced(cacheRoot: string, out: string, placed: readonly PlacedFile[]): Promise<number> {
  const s = await settle(
    placed,
    (p) => join(out, p.rel),
    (p) => p.st,
    (ns) => clockMarkAt(dirname(resolve(out)), ns),
    (st) => st.nlink === 1n,
  );
  const files: Record<string, Placed> = {};
  for (const { item, st } of s?.firm ?? []) if (st.ctimeNs < s!.mark && !coarseTimes(st)) files[item.rel] = { ...proofOf(st), digest: item.digest };
  try {
    const path = recordsPath(cacheRoot, out);
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, JSON.stringify({ out: resolve(out), files }));
  } catch {
    return 0;
  }
  return Object.keys(files).length;
}

function isPlaced(p: Partial<Placed> | undefined): p is Placed {
  return (
    p !== undefined &&
    typeof p.digest === 'string' &&
    /^sha256:[0-9a-f]{64}$/.test(p.digest) &&
    [p.dev, p.ino, p.size, p.mtimeNs, p.ctimeNs].every((v) => typeof v === 'string' && /^\d+$/.test(v))
  );
}

/** `cache gc`: drops the records of bundle folders that are gone (or unreadable records); the rest stay. */
export async function dropStaleRecords(cacheRoot: string): Promise<void> {
  const dir = join(cacheRoot, PLACED_DIR);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const out = await readFile(path, 'utf8')
      .then((t) => (JSON.parse(t) as { out?: unknown }).out)
      .catch(() => undefined); // unreadable or damaged: dropped as well
    const there = typeof out === 'string' && (await lstat(out).catch(() => undefined))?.isDirectory();
    if (!there) await rm(path, { recursive: true, force: true });
  }
}
