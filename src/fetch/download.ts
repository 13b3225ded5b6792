import pLimit from 'p-limit';
import type { Blob, OpenAt } from '../store/store.js';
import type { TeeFolder } from '../store/tee.js';
import { InterruptedError, VaultError } from '../util/errors.js';
import { isTransient } from './http.js';
import type { FetchCtx, FetchItem, FetchTally } from './types.js';
export type { FetchCtx, FetchItem, FetchTally } from './types.js';
import { type RangedOptions, RANGED_MIN_BYTES, downloadRanged, sleep, streamsFor } from './ranged.js';
import { PartThreads, type RemoteOpenAt, fetchThreads } from './part-threads.js';
import { streamPool, threadWrite } from './stream-threads.js';

/** Whatever yields an item's bytes from an offset on (a source is one). */
export interface Opener<T, C> {
  open(item: T, ctx: C): OpenAt;
}

export interface FetchOptions<T, C> {
  concurrency: number;
  sourceFor: (item: T) => Opener<T, C>;
  /**
   * Whether an item may be fetched in several byte ranges at once (its URL is http(s)); big ones then are,
   * over `streamsFor(concurrency)` streams in all, unless the server ignores ranges.
   */
  ranged?: (item: T) => boolean;
  /** Streams for ranged downloads, all files together (default: streamsFor(concurrency)); 1: none are ranged. */
  streams?: number;
  /** The whole-file hash of a ranged download (a build hashes on a worker thread); default: this thread. */
  hashWhole?: RangedOptions['hashWhole'];
  /** Threads for single-stream downloads whose opener is a plain GET (fetch/stream-threads.ts streamThreadsFor); default none. */
  streamThreads?: number;
  /** Where single-stream downloads also write the bundle's copy of each blob (store/tee.ts); default none. */
  tee?: TeeFolder;
}

/**
 * Puts every locked artifact into the store: those already there are skipped, the others fetched in parallel,
 * retried with backoff on transient failures, and resumed from the partial file each retry left.
 */
export async function fetchAll<T extends FetchItem, C extends FetchCtx>(items: readonly T[], ctx: C, o: FetchOptions<T, C>): Promise<Blob[]> {
  return (await fetchTallied(items, ctx, o)).blobs;
}

/**
 * fetchAll, saying first what it will do (a `fetch:plan` event: everything needed, the cached part counted as
 * done) and returning what it did: how much came from the cache and how much was downloaded.
 */
export async function fetchTallied<T extends FetchItem, C extends FetchCtx>(
  items: readonly T[],
  ctx: C,
  o: FetchOptions<T, C>,
): Promise<{ blobs: Blob[]; tally: FetchTally }> {
  const limit = pLimit(Math.max(1, o.concurrency));
  const unique = new Map<string, T>();
  for (const it of items) if (!unique.has(it.digest)) unique.set(it.digest, it);
  const all = [...unique.values()];
  const cached = await Promise.all(all.map((it) => limit(() => ctx.store.has(it.digest, it.size))));
  const tally: FetchTally = { files: all.length, bytes: 0, cachedFiles: 0, cachedBytes: 0, downloadedFiles: 0, transferredBytes: 0, resumed: 0 };
  all.forEach((it, i) => {
    tally.bytes += it.size;
    if (!cached[i]) return;
    tally.cachedFiles++;
    tally.cachedBytes += it.size;
  });
  const { files, bytes, cachedFiles, cachedBytes } = tally;
  ctx.report({ type: 'fetch:plan', files, bytes, cachedFiles, cachedBytes });
  // Largest first: a big file started last would run alone at the end, at one connection's speed, while the
  // small ones fill the gaps; results keep the lock's order.
  const order = all.map((_, i) => i).sort((a, b) => all[b]!.size - all[a]!.size || a - b);
  const jobs = new Array<Promise<Blob>>(all.length);
  const streams = o.streams ?? streamsFor(o.concurrency);
  const partLimit = pLimit(streams);
  const t = o.ranged && streams > 1 ? fetchThreads() : { threads: 0, forced: false };
  const threads = t.threads > 0 ? new PartThreads(t.threads, t.forced, ctx.limits) : undefined;
  const ranged =
    o.ranged && streams > 1 ? { streams, limit: partLimit, ...(o.hashWhole ? { hashWhole: o.hashWhole } : {}), ...(threads ? { threads } : {}) } : undefined;
  const rangedFor = (it: T) => (ranged && it.size >= RANGED_MIN_BYTES && o.ranged!(it) ? ranged : undefined);
  // One kind of download thread a fetch: where ranged threads take the big files, the main thread has the small ones
  // to itself and a stream thread would only add its ~14 MB (a model build on the 16-core box: 2 ranged threads and
  // a stream thread for two config files peaked at 200.6 MiB; bench/results/2026-12-06-h200-site-verify-s9).
  const rangedOnThreads = threads !== undefined && all.some((it, i) => !cached[i] && rangedFor(it) !== undefined && threads.takes(it.size));
  const single = o.streamThreads && !rangedOnThreads ? streamPool(o.streamThreads, ctx.limits) : undefined;
  for (const i of order) {
    const it = all[i]!;
    if (cached[i]) {
      ctx.report({ type: 'download:done', id: it.id, size: it.size, cached: true });
      jobs[i] = Promise.resolve({ digest: it.digest, size: it.size });
    } else jobs[i] = limit(() => download(it, ctx, o.sourceFor(it), tally, rangedFor(it), single, o.tee));
  }
  // Wait for every job, so no write is still running when the caller cleans up; then report the first failure.
  const settled = await Promise.allSettled(jobs);
  await Promise.all([threads?.close(), single?.close()]); // no part runs any more: every job has settled
  // The streamed downloads' proofs, one clock mark for all: their first copy out need not hash them again.
  await ctx.store.recordLandedProofs().catch(() => undefined);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    if (ctx.signal.aborted) throw new InterruptedError();
    throw failed.reason;
  }
  return { blobs: settled.map((s) => (s as PromiseFulfilledResult<Blob>).value), tally };
}

export async function fetchOne<T extends FetchItem, C extends FetchCtx>(item: T, ctx: C, source: Opener<T, C>): Promise<Blob> {
  if (await ctx.store.has(item.digest, item.size)) {
    ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: true });
    return { digest: item.digest, size: item.size };
  }
  return download(item, ctx, source);
}

/**
 * Downloads one item into the store (it is not there), retrying transient failures and resuming each time; in
 * byte ranges at once when `ranged` is given and the server serves ranges.
 */
async function download<T extends FetchItem, C extends FetchCtx>(
  item: T,
  ctx: C,
  source: Opener<T, C>,
  tally?: FetchTally,
  ranged?: RangedOptions,
  single?: PartThreads,
  tee?: TeeFolder,
): Promise<Blob> {
  const openAt: RemoteOpenAt = source.open(item, ctx);
  const expect = { digest: item.digest, size: item.size, subject: item.id, ...pinnedByOf(item) };
  if (ranged) {
    const blob = await downloadRanged(item, ctx, openAt, expect, ranged, tally);
    if (blob) return blob;
    ctx.report({ type: 'info', message: `${item.id}: the server does not serve byte ranges; fetched as one stream` });
  }
  // Plain http only: the thread's client (raw-get.ts) speaks no TLS; https stays with undici here.
  const onThread = single && openAt.remote?.url.startsWith('http:') ? threadWrite(single, openAt.remote, expect, ctx.signal) : undefined;
  let resumed = false;
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal.aborted) throw new InterruptedError();
    const resumeFrom = await ctx.store.partialSize(item.digest);
    resumed ||= resumeFrom > 0;
    ctx.report({ type: 'download:start', id: item.id, size: item.size, resumeFrom });
    try {
      const onBytes = (n: number) => {
        if (tally) tally.transferredBytes += n;
        ctx.report({ type: 'download:progress', id: item.id, bytes: n });
      };
      const blob = await ctx.store.put(expect, openAt, { onBytes, ...(onThread ? { onThread } : {}), ...(tee ? { tee } : {}) });
      ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: false });
      if (tally) {
        tally.downloadedFiles++;
        if (resumed) tally.resumed++;
      }
      return blob;
    } catch (err) {
      if (ctx.signal.aborted) throw new InterruptedError();
      if (!isTransient(err) || attempt >= ctx.limits.retries) throw err;
      const delayMs = Math.min(ctx.limits.retryMaxDelayMs, ctx.limits.retryBaseDelayMs * 2 ** attempt * (0.5 + Math.random() / 2));
      ctx.report({
        type: 'download:retry',
        id: item.id,
        attempt: attempt + 1,
        reason: err instanceof VaultError ? err.message : String(err),
        delayMs,
      });
      await sleep(delayMs, ctx.signal);
    }
  }
}

const PINNERS = ['manifest-pin', 'signed-index', 'index-hash', 'lock'] as const;
type Pinner = (typeof PINNERS)[number];

function pinnedByOf(item: FetchItem): { pinnedBy?: Pinner } {
  const k = item.provenance?.kind;
  return PINNERS.includes(k as Pinner) ? { pinnedBy: k as Pinner } : {};
}
