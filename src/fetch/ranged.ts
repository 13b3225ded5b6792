import type { Digest } from '../store/digest.js';
import { hashFile } from '../store/hash-file.js';
import { type Part, RangedFile, dropRanged } from '../store/ranged.js';
import type { Blob, Expectation, OpenAt } from '../store/store.js';
import { InterruptedError, IntegrityError, VaultError, localWriteError } from '../util/errors.js';
import type { FetchCtx, FetchItem, FetchTally } from './types.js';
import { isTransient } from './http.js';
import { networkError } from './http-common.js';
import type { PartThreads, RemoteOpenAt } from './part-threads.js';

/** A ranged download's parts are at least this big: smaller ones would spend their time on round trips. */
export const MIN_PART_BYTES = 16 << 20;
/** Files at least this big are fetched in several ranges at once (when the opener's URL serves ranges). */
export const RANGED_MIN_BYTES = 2 * MIN_PART_BYTES;

/** Streams at once for ranged downloads (all files together), from the downloads at once (`--concurrency`). */
export function streamsFor(concurrency: number): number {
  return Math.max(1, Math.min(32, concurrency * 4));
}

/** Part size for a file of `size` bytes over `streams` streams: whole MiBs, at least MIN_PART_BYTES. */
export function partBytesFor(size: number, streams: number): number {
  const mib = 1 << 20;
  return Math.max(MIN_PART_BYTES, Math.ceil(size / streams / mib) * mib);
}

/** How one ranged download runs: the shared stream limit, the whole-file hash (a worker thread in a build). */
export interface RangedOptions {
  streams: number;
  /** Runs a part's fetch when a stream is free (one limit shared by every file of the fetch). */
  limit: <R>(fn: () => Promise<R>) => Promise<R>;
  hashWhole?: (path: string, size: number, signal: AbortSignal) => Promise<Digest>;
  /** Threads that fetch parts of big files whose opener is a plain GET (fetch/part-threads.ts). */
  threads?: PartThreads;
}

/** A part's fetch on a thread: the pool and the GET it makes. */
interface OnThread {
  pool: PartThreads;
  url: string;
  headers: Record<string, string>;
}

/** The server answered a range request with the whole file: fetch it as one stream instead. */
class NoRanges extends Error {}

/**
 * Downloads `item` in byte ranges fetched at once (each written at its offset, each retried and resumed on its
 * own), then proves the whole file against its digest. Returns undefined when the server ignores ranges (nothing
 * of this try is kept): the caller fetches it as one stream.
 */
export async function downloadRanged<T extends FetchItem>(
  item: T,
  ctx: FetchCtx,
  openAt: OpenAt,
  expect: Expectation,
  o: RangedOptions,
  tally?: FetchTally,
): Promise<Blob | undefined> {
  const file = await RangedFile.open(ctx.store, expect, partBytesFor(item.size, o.streams));
  ctx.report({ type: 'download:start', id: item.id, size: item.size, resumeFrom: file.resumedBytes });
  const onBytes = (n: number) => {
    if (tally) tally.transferredBytes += n;
    ctx.report({ type: 'download:progress', id: item.id, bytes: n });
  };
  const todo = file.parts.filter((p) => p.have < p.end - p.start);
  const remote = (openAt as RemoteOpenAt).remote;
  const thread = o.threads?.takes(item.size) && remote ? { pool: o.threads, ...remote } : undefined;
  const settled = await Promise.allSettled(todo.map((p) => o.limit(() => fetchPart(item, ctx, openAt, file, p, onBytes, thread))));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await file.close();
    if (failed.reason instanceof NoRanges || settled.some((s) => s.status === 'rejected' && s.reason instanceof NoRanges)) {
      await dropRanged(ctx.store, file.expect.digest);
      return undefined;
    }
    if (ctx.signal.aborted) throw new InterruptedError();
    throw failed.reason;
  }
  const hashWhole = o.hashWhole ?? ((p: string) => hashFile(p).then((h) => h.digest));
  const blob = await file.land((p) => hashWhole(p, item.size, ctx.signal));
  ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: false });
  if (tally) {
    tally.downloadedFiles++;
    if (file.resumedBytes > 0) tally.resumed++;
  }
  return blob;
}

/**
 * One part: fetched from what it holds to its end, retried with backoff on transient failures, resumed each time.
 * With `thread`, a thread fetches it; when the thread hands it back (an answer it does not take), this thread
 * runs that attempt and the rest with `openAt`, so errors and their hints are the opener's.
 */
async function fetchPart<T extends FetchItem>(
  item: T,
  ctx: FetchCtx,
  openAt: OpenAt,
  file: RangedFile,
  part: Part,
  onBytes: (n: number) => void,
  thread?: OnThread,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal.aborted) throw new InterruptedError();
    const from = part.start + part.have;
    try {
      if (thread) {
        if (await onThreadOnce(item, ctx, file, part, onBytes, thread)) return;
        thread = undefined;
        attempt--; // not an attempt: this thread makes it now
        continue;
      }
      const { startedAt, body } = await openAt(from, part.end);
      if (startedAt !== from) {
        for await (const _ of body) break; // ends the body (and its connection)
        throw new NoRanges();
      }
      await file.writePart(part, body, onBytes);
      return;
    } catch (err) {
      if (err instanceof NoRanges || err instanceof IntegrityError) throw err;
      if (ctx.signal.aborted) throw new InterruptedError();
      if (!isTransient(err) || attempt >= ctx.limits.retries) throw err;
      const delayMs = Math.min(ctx.limits.retryMaxDelayMs, ctx.limits.retryBaseDelayMs * 2 ** attempt * (0.5 + Math.random() / 2));
      const reason = err instanceof VaultError ? err.message : String(err);
      ctx.report({ type: 'download:retry', id: item.id, attempt: attempt + 1, reason, delayMs });
      await sleep(delayMs, ctx.signal);
    }
  }
}

/** One attempt on a thread: true when the part is whole, false when the thread hands it back; else throws as writePart would. */
async function onThreadOnce<T extends FetchItem>(
  item: T,
  ctx: FetchCtx,
  file: RangedFile,
  part: Part,
  onBytes: (n: number) => void,
  t: OnThread,
): Promise<boolean> {
  const job = { url: t.url, headers: t.headers, path: file.path, from: part.start + part.have, end: part.end };
  const took = (n: number) => (file.took(part, n), onBytes(n));
  const r = await t.pool.fetch(job, took, ctx.signal);
  await file.saveJournal(true).catch(() => undefined);
  if (r.end === 'fallback') return false;
  if (r.end === 'aborted') throw new InterruptedError();
  if (r.end === 'local') throw localWriteError(Object.assign(new Error(r.message ?? 'write failed'), { code: r.code }), file.path);
  if (part.have === part.end - part.start) return true;
  if (r.end === 'net') throw networkError(Object.assign(new Error(r.message ?? 'connection failed'), { code: r.code }), t.url, item.id);
  throw file.endedEarly(part);
}

/** Waits `ms`, or less when Ctrl-C comes. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => (clearTimeout(t), resolve());
    // The listener goes with the timer: a long build retries many times on the one Ctrl-C signal.
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
