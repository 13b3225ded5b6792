import type { Hash } from 'node:crypto';
import { IntegrityError } from '../util/errors.js';
import { passedThrough } from '../util/gc.js';
import type { Digest } from './digest.js';
import type { BlobWriter } from './writer.js';

export interface Blob {
  digest: Digest;
  size: number;
}

export interface Expectation extends Blob {
  /** Who the bytes are for (an artifact id); named in errors. */
  subject: string;
  /**
   * Who said what the bytes must hash to, so a mismatch sends the user the right way: a sha256 written in the
   * manifest (fix it; a plain build re-locks), a signed index (upstream damage or tampering: nothing to update
   * here), an index over TLS or the lock (default: the upstream file changed since it was locked).
   */
  pinnedBy?: 'manifest-pin' | 'signed-index' | 'index-hash' | 'lock';
}

/** What to do about bytes that do not hash as expected, by who pinned them and whether a partial file was resumed. */
export function mismatchHint(pinnedBy: Expectation['pinnedBy'], resumed: boolean): string {
  if (resumed)
    return 'the download resumed from a partial file in the cache, and the whole did not match: that partial file was damaged and is deleted now; run it again (the download starts afresh)';
  switch (pinnedBy) {
    case 'manifest-pin':
      return 'the sha256 written in the manifest does not match the file the source gives: check the file, fix the sha256 in the manifest, and run build again (a plain build re-locks a changed manifest)';
    case 'signed-index':
      return 'the file does not match the hash its signed index (InRelease) gives: that is damage or tampering upstream or on the way (a mirror caught mid-sync, a caching proxy), not a pin to update; try again later or use another mirror';
    case 'index-hash':
      return "the file does not match the sha256 its package index gives (PEP 503 #sha256= or PEP 691 hashes): the index or the file is wrong upstream, or damaged on the way; it is not a pin to update: try again later, use another index or mirror, and tell the index's owner";
    default:
      return 'the upstream file changed since it was locked (or was damaged on the way): if it changed on purpose, run "vault-bundle lock" again; if not, do not trust that source';
  }
}

/**
 * A body that can hand its chunks to a callback as they arrive (a 'data' handler), waiting while the callback's
 * promise runs (backpressure): no promise and no async-iterator step per chunk, as `for await` over a stream
 * costs (issue #14: the download's main thread). Network bodies are one (fetch/http-common.ts cappedBody);
 * anything else is read with `for await`.
 */
export interface ChunkPump {
  /** Calls `onChunk` for every chunk in order; resolves at the end, rejects with the body's or `onChunk`'s error. */
  pump(onChunk: (chunk: Uint8Array) => Promise<void> | undefined): Promise<void>;
}

export type Body = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export function isPump(body: Body): body is Body & ChunkPump {
  return typeof (body as Partial<ChunkPump>).pump === 'function';
}

export interface BodyWrite {
  out: BlobWriter;
  hash: Hash;
  /** Bytes at the start of the body already held (a source that restarted from 0). */
  skip: number;
  /** Bytes already in the partial file. */
  have: number;
  expect: Expectation;
  resumed: boolean;
  onBytes?: ((n: number) => void) | undefined;
}

/** Streams the source's bytes through the hash into the writer; the blob's size so far. More than locked: SIZE_MISMATCH. */
export async function writeBody(body: Body, w: BodyWrite): Promise<number> {
  const { out, hash, expect } = w;
  let { skip } = w;
  let size = w.have;
  const take = (raw: Uint8Array): Promise<void> | undefined => {
    let chunk = raw;
    if (skip > 0) {
      if (chunk.byteLength <= skip) {
        skip -= chunk.byteLength;
        return undefined;
      }
      chunk = chunk.subarray(skip);
      skip = 0;
    }
    size += chunk.byteLength;
    passedThrough(raw.byteLength);
    if (size > expect.size) {
      throw new IntegrityError({
        code: 'SIZE_MISMATCH',
        message: `${expect.subject}: received more than the locked ${expect.size} bytes`,
        subject: expect.subject,
        expected: String(expect.size),
        found: `> ${expect.size}`,
        hint: mismatchHint(expect.pinnedBy, w.resumed),
      });
    }
    hash.update(chunk);
    // Copied into the writer's buffer, so the network chunk is garbage at once; it writes 512 KiB at a time.
    // Counted once it is all in (what an error leaves on disk is what progress said).
    const wait = out.write(chunk);
    const n = chunk.byteLength;
    if (!wait) return void w.onBytes?.(n);
    return wait.then(() => w.onBytes?.(n));
  };
  if (isPump(body)) {
    await body.pump(take);
    return size;
  }
  for await (const raw of body) {
    const wait = take(raw);
    if (wait) await wait;
  }
  return size;
}

/** The whole blob's size or digest is not the locked one. */
export function wholeMismatch(expect: Expectation, size: number, found: Digest, resumed: boolean): IntegrityError {
  const sizeWrong = size !== expect.size;
  return new IntegrityError({
    code: sizeWrong ? 'SIZE_MISMATCH' : 'DIGEST_MISMATCH',
    message: sizeWrong ? `${expect.subject}: expected ${expect.size} bytes, received ${size}` : `${expect.subject}: expected ${expect.digest}, found ${found}`,
    subject: expect.subject,
    expected: sizeWrong ? String(expect.size) : expect.digest,
    found: sizeWrong ? String(size) : found,
    hint: mismatchHint(expect.pinnedBy, resumed),
  });
}
