import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { IntegrityError, localWriteError } from '../util/errors.js';
import { type Digest, digestOf, hexOf, isSha256Hex } from './digest.js';
import { type Landed, dropProof, recordStreamed, statBlob } from './proof.js';
import { type PartialClaim, claimPartial } from './partial-lock.js';
import { type Blob, type Expectation, mismatchHint, writeBody, wholeMismatch } from './body.js';
import { BlobWriter } from './writer.js';
import { resumeFrom } from './resume.js';
import { hashFile } from './hash-file.js';
import type { TeeFolder } from './tee.js';

export { hashFile };

export { type Blob, type Expectation, mismatchHint };

/**
 * Yields the bytes of an artifact starting at `offset` (0 for a fresh start, more to resume a partial file).
 * A source that cannot seek may yield from 0 and say so by returning `startedAt: 0`. Given `end` (exclusive), it
 * may stop there (an HTTP Range with an end); one that goes on is cut off by the caller.
 */
export type OpenAt = (offset: number, end?: number) => Promise<{ startedAt: number; body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> }>;

/**
 * Writes a blob's bytes into the partial file `path` (claimed for this process) from byte `have` on, hashing the
 * `have` bytes already there first, on another thread (fetch/stream-threads.ts), and fsyncs it: the file's size
 * and sha256. Undefined: it could not start (the file holds a prefix of the blob, maybe longer than `have`); the
 * put then runs here, with the opener. Its errors are the put's (an IntegrityError drops the partial file).
 */
export type ThreadWrite = (
  path: string,
  have: number,
  onBytes?: (n: number) => void,
  tee?: string,
) => Promise<{ size: number; digest: Digest; teeWhole?: boolean } | undefined>;

/** How a put runs: its progress, the thread that may write it, and where a second copy of a fresh download goes. */
export interface PutOptions {
  onBytes?: (n: number) => void;
  onThread?: ThreadWrite;
  /** The bundle's copy, written as the bytes arrive (store/tee.ts); marked there when the blob lands whole. */
  tee?: TeeFolder;
}

/** Where blobs live under a store's root and a bundle's: OCI image-layout naming. */
export const BLOBS_DIR = 'blobs/sha256';

/**
 * A content-addressed blob folder in OCI image-layout naming (`blobs/sha256/<hex>`). Bytes are hashed and
 * counted while they stream in and land only if they match; an interrupted put leaves a partial file that the
 * next put of the same digest resumes. Concurrent puts of one digest share one write.
 */
export class Store {
  readonly root: string;
  private readonly inflight = new Map<string, Promise<Blob>>();
  /** Blobs landed by single-stream puts whose proofs are not recorded yet. */
  private readonly landed: Landed[] = [];

  constructor(root: string) {
    this.root = root;
  }

  path(d: Digest): string {
    return join(this.root, BLOBS_DIR, hexOf(d));
  }

  /** Where a download of `d` is written until it is proven (a ranged one has a journal beside it: ranged.ts). */
  partialPath(d: Digest): string {
    return join(this.root, 'partial', `${hexOf(d)}.part`);
  }

  /** The journal of a ranged download of `d` (ranged.ts): which bytes of each part its partial file holds. */
  journalPath(d: Digest): string {
    return join(this.root, 'partial', `${hexOf(d)}.ranges`);
  }

  /** True when the blob is present with the expected size (the bytes were checked when they landed). */
  async has(d: Digest, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.path(d));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  /** Bytes already downloaded towards `d`, for progress and resume. */
  async partialSize(d: Digest): Promise<number> {
    try {
      return (await stat(this.partialPath(d))).size;
    } catch {
      return 0;
    }
  }

  /** Stores the bytes that `openAt` yields, which must hash to `expect.digest` and count `expect.size`. */
  put(expect: Expectation, openAt: OpenAt, o: PutOptions = {}): Promise<Blob> {
    const key = expect.digest;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.doPut(expect, openAt, o).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Where damaged blobs are moved aside (`cache verify` and build name them; `cache gc` empties it). */
  get quarantineDir(): string {
    return join(this.root, 'quarantine');
  }

  /**
   * Moves a blob that failed its hash out of `blobs/` (the next put fetches it anew), keeping the bytes for a
   * look: `quarantine/<hex>.<ms>`. Returns where it went (undefined: it was already gone, or is removed).
   */
  async quarantine(d: Digest, from = this.path(d)): Promise<string | undefined> {
    const to = join(this.quarantineDir, `${basename(from)}.${Date.now()}`);
    if (isSha256Hex(hexOf(d))) await dropProof(this.root, d);
    try {
      await mkdir(this.quarantineDir, { recursive: true });
      await rename(from, to);
      return to;
    } catch {
      await rm(from, { force: true }).catch(() => undefined);
      return undefined;
    }
  }

  /** Re-hashes a stored blob; a mismatch moves it aside (so the next build fetches it again) and throws. */
  async verify(d: Digest): Promise<void> {
    const p = this.path(d);
    const found = await hashFile(p);
    if (found.digest !== d) {
      const aside = await this.quarantine(d);
      throw new IntegrityError({
        code: 'CACHE_CORRUPT',
        message: `cached blob ${p} is corrupt: expected ${d}, found ${found.digest}; it was ${aside ? `moved aside to ${aside}` : 'removed'}`,
        subject: p,
        expected: d,
        found: found.digest,
        hint: 'run the build again to fetch it anew',
      });
    }
  }

  private async doPut(expect: Expectation, openAt: OpenAt, { onBytes, onThread, tee }: PutOptions): Promise<Blob> {
    if (await this.has(expect.digest, expect.size)) return { digest: expect.digest, size: expect.size };
    try {
      await mkdir(join(this.root, BLOBS_DIR), { recursive: true });
      await mkdir(join(this.root, 'partial'), { recursive: true });
    } catch (err) {
      throw localWriteError(err, this.root);
    }
    // This process alone writes the partial file (partial-lock.ts), so what it hashes is what the file holds.
    const claim = await claimPartial(this.partialPath(expect.digest));
    const copy = { path: tee?.pathOf(expect.digest), whole: false };
    try {
      const done = onThread ? await this.putOnThread(claim, expect, onThread, onBytes, copy) : undefined;
      // Handed back by the thread: its second file goes, and this attempt makes a new one.
      if (onThread && !done) await tee?.drop(expect.digest).catch(() => undefined);
      const blob = done ?? (await this.putInto(claim, expect, openAt, onBytes, copy));
      if (copy.whole) tee!.markLanded(expect.digest);
      return blob;
    } finally {
      try {
        if (!copy.whole) await tee?.drop(expect.digest).catch(() => undefined);
      } finally {
        await claim.release();
      }
    }
  }

  /** putInto with the bytes written and hashed on another thread; undefined: the thread handed it back. */
  private async putOnThread(
    claim: PartialClaim,
    expect: Expectation,
    onThread: ThreadWrite,
    onBytes: ((n: number) => void) | undefined,
    copy: TeeCopy,
  ): Promise<Blob | undefined> {
    const partial = claim.path;
    await this.dropRangedLeftover(claim, expect.digest);
    let have = claim.shared
      ? await stat(partial).then(
          (st) => st.size,
          () => 0,
        )
      : 0;
    if (have > expect.size) {
      await rm(partial, { force: true });
      have = 0;
    }
    let r: Awaited<ReturnType<ThreadWrite>>;
    try {
      r = await onThread(partial, have, onBytes, have === 0 ? copy.path : undefined);
    } catch (err) {
      if (err instanceof IntegrityError || !claim.shared) await rm(partial, { force: true });
      throw err;
    }
    if (!r) return undefined;
    const blob = await this.land(partial, expect, r.size, r.digest, have > 0);
    copy.whole = have === 0 && r.teeWhole === true;
    return blob;
  }

  /** A ranged download's leftover (a file with holes) is not resumed as one stream. */
  private async dropRangedLeftover(claim: PartialClaim, d: Digest): Promise<void> {
    const journal = this.journalPath(d);
    if (claim.shared && (await stat(journal).catch(() => undefined))) await Promise.all([rm(claim.path, { force: true }), rm(journal, { force: true })]);
  }

  private async putInto(claim: PartialClaim, expect: Expectation, openAt: OpenAt, onBytes: ((n: number) => void) | undefined, copy: TeeCopy): Promise<Blob> {
    const partial = claim.path;
    // Resume: hash what an earlier attempt left, then ask the source for the rest (a ranged file has holes: not that).
    await this.dropRangedLeftover(claim, expect.digest);
    const hash = createHash('sha256');
    const have = claim.shared ? await resumeFrom(partial, expect.size, hash) : 0;
    const resumed = have > 0;
    const { startedAt, body } = await openAt(have);
    let skip = 0;
    if (startedAt === 0 && have > 0)
      skip = have; // the source restarted; drop what we already hold
    else if (startedAt !== have) throw new Error(`source resumed at ${startedAt}, asked for ${have}`);

    // The second copy starts with the first byte or not at all (a resumed put's bytes so far are in one file only).
    const out = await BlobWriter.open(partial, have, expect.size - have, have === 0 && skip === 0 && copy.path ? { tee: copy.path } : {});
    let size: number;
    try {
      size = await writeBody(body, { out, hash, skip, have, expect, resumed, onBytes });
      await out.finish();
    } catch (err) {
      // What was received is on disk before an error propagates, so a resumed download starts after it;
      // wrong bytes must not be resumed from: the partial file goes (and a private one, which no run resumes).
      await out.abort(!(err instanceof IntegrityError));
      if (err instanceof IntegrityError || !claim.shared) await rm(partial, { force: true });
      throw err;
    }
    const blob = await this.land(partial, expect, size, digestOf(hash.digest('hex')), resumed);
    copy.whole = out.teeWhole;
    return blob;
  }

  /** Lands a partial file of `size` bytes that hashed to `found` as it was written (by this process alone), or drops it. */
  private async land(partial: string, expect: Expectation, size: number, found: Digest, resumed: boolean): Promise<Blob> {
    const final = this.path(expect.digest);
    if (size !== expect.size || found !== expect.digest) {
      await rm(partial, { force: true });
      throw wholeMismatch(expect, size, found, resumed);
    }
    let before: BigIntStats;
    try {
      await chmod(partial, 0o444); // blobs are immutable; bundles get copies (copyBlobOut), never links
      before = await statBlob(partial);
      await rename(partial, final);
    } catch (err) {
      throw localWriteError(err, final);
    }
    // Hashed as it streamed into a file no one else wrote: a proof once the clock has moved on (recordLandedProofs).
    this.landed.push({ digest: expect.digest, final, before });
    return { digest: expect.digest, size };
  }

  /**
   * Records the proofs of the blobs single-stream puts landed since the last call, with one clock mark for all
   * (proof.ts recordStreamed); a blob left without one is hashed when it is first copied out, as before.
   */
  async recordLandedProofs(): Promise<number> {
    const landed = this.landed.splice(0);
    return recordStreamed(this.root, landed);
  }

  /** Stores a buffer whose digest is computed here (generated files such as a repository index). */
  async putBuffer(data: Uint8Array, subject: string): Promise<Blob> {
    const digest = digestOf(createHash('sha256').update(data).digest('hex'));
    return this.put({ digest, size: data.byteLength, subject }, () =>
      Promise.resolve({
        startedAt: 0,
        body: [data],
      }),
    );
  }
}

/** A put's second copy: where it is written, and whether it came out whole (set once the blob landed). */
interface TeeCopy {
  path: string | undefined;
  whole: boolean;
}
