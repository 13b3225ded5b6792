import pLimit from 'p-limit';
import type { Digest } from '../store/digest.js';
import type { Blob, OpenAt, Store } from '../store/store.js';
import type { Reporter } from '../util/events.js';
import type { Limits } from '../util/limits.js';
import { InterruptedError, VaultError } from '../util/errors.js';
import { isTransient } from './http.js';

/** One artifact to put into the store (a source's locked artifact is one). */
export interface FetchItem {
  id: string;
  digest: Digest;
  size: number;
  /** Who pinned its digest (a locked artifact's provenance): a mismatch's hint says what to do about it. */
  provenance?: { kind: string };
}

/** What downloading needs: the store, progress events, Ctrl-C and the retry limits. */
export interface FetchCtx {
  store: Store;
  report: Reporter;
  signal: AbortSignal;
  limits: Pick<Limits, 'retries' | 'retryBaseDelayMs' | 'retryMaxDelayMs'>;
}

/** Whatever yields an item's bytes from an offset on (a source is one). */
export interface Opener<T, C> {
  open(item: T, ctx: C): OpenAt;
}

export interface FetchOptions<T, C> {
  concurrency: number;
  sourceFor: (item: T) => Opener<T, C>;
}

/**
 * Puts every locked artifact into the store: those already there are skipped, the others fetched in parallel,
 * retried with backoff on transient failures, and resumed from the partial file each retry left.
 */
export async function fetchAll<T extends FetchItem, C extends FetchCtx>(items: readonly T[], ctx: C, o: FetchOptions<T, C>): Promise<Blob[]> {
  const limit = pLimit(Math.max(1, o.concurrency));
  const unique = new Map<string, T>();
  for (const it of items) if (!unique.has(it.digest)) unique.set(it.digest, it);
  // Largest first: a big file started last would run alone at the end, at one connection's speed, while the
  // small ones fill the gaps; results keep the lock's order.
  const all = [...unique.values()];
  const order = all.map((_, i) => i).sort((a, b) => all[b]!.size - all[a]!.size || a - b);
  const jobs = new Array<Promise<Blob>>(all.length);
  for (const i of order) jobs[i] = limit(() => fetchOne(all[i]!, ctx, o.sourceFor(all[i]!)));
  // Wait for every job, so no write is still running when the caller cleans up; then report the first failure.
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    if (ctx.signal.aborted) throw new InterruptedError();
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<Blob>).value);
}

export async function fetchOne<T extends FetchItem, C extends FetchCtx>(item: T, ctx: C, source: Opener<T, C>): Promise<Blob> {
  if (await ctx.store.has(item.digest, item.size)) {
    ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: true });
    return { digest: item.digest, size: item.size };
  }
  const openAt = source.open(item, ctx);
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal.aborted) throw new InterruptedError();
    const resumeFrom = await ctx.store.partialSize(item.digest);
    ctx.report({ type: 'download:start', id: item.id, size: item.size, resumeFrom });
    try {
      const blob = await ctx.store.put({ digest: item.digest, size: item.size, subject: item.id, ...pinnedByOf(item) }, openAt, (n) =>
        ctx.report({ type: 'download:progress', id: item.id, bytes: n }),
      );
      ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: false });
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => (clearTimeout(t), resolve());
    // The listener goes with the timer: a long build retries many times on the one Ctrl-C signal.
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const PINNERS = ['manifest-pin', 'signed-index', 'index-hash', 'lock'] as const;
type Pinner = (typeof PINNERS)[number];

function pinnedByOf(item: FetchItem): { pinnedBy?: Pinner } {
  const k = item.provenance?.kind;
  return PINNERS.includes(k as Pinner) ? { pinnedBy: k as Pinner } : {};
}
