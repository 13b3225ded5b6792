import pLimit from 'p-limit';
import type { BuildCtx, Locked, Source } from '../sources/source.js';
import type { Blob } from '../store/store.js';
import { InterruptedError, VaultError } from '../util/errors.js';
import { isTransient } from './http.js';

export interface FetchOptions {
  concurrency: number;
  sourceFor: (item: Locked) => Source;
}

/**
 * Puts every locked artifact into the store: those already there are skipped, the others fetched in parallel,
 * retried with backoff on transient failures, and resumed from the partial file each retry left.
 */
export async function fetchAll(items: readonly Locked[], ctx: BuildCtx, o: FetchOptions): Promise<Blob[]> {
  const limit = pLimit(Math.max(1, o.concurrency));
  const unique = new Map<string, Locked>();
  for (const it of items) if (!unique.has(it.digest)) unique.set(it.digest, it);
  // Largest first: a big file started last would run alone at the end, at one connection's speed, while the
  // small ones fill the gaps; results keep the lock's order.
  const all = [...unique.values()];
  const order = all.map((_, i) => i).sort((a, b) => all[b]!.size - all[a]!.size || a - b);
  const jobs: Promise<Blob>[] = new Array(all.length);
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

export async function fetchOne(item: Locked, ctx: BuildCtx, source: Source): Promise<Blob> {
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
      const blob = await ctx.store.put({ digest: item.digest, size: item.size, subject: item.id, pinnedBy: item.provenance.kind }, openAt, (n) =>
        ctx.report({ type: 'download:progress', id: item.id, bytes: n }),
      );
      ctx.report({ type: 'download:done', id: item.id, size: item.size, cached: false });
      return blob;
    } catch (err) {
      if (ctx.signal.aborted) throw new InterruptedError();
      if (!isTransient(err) || attempt >= ctx.limits.retries) throw err;
      const delayMs = Math.min(
        ctx.limits.retryMaxDelayMs,
        ctx.limits.retryBaseDelayMs * 2 ** attempt * (0.5 + Math.random() / 2),
      );
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
