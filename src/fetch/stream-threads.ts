import { availableParallelism } from 'node:os';
import { digestOf } from '../store/digest.js';
import { type Expectation, type ThreadWrite, mismatchHint } from '../store/store.js';
import { IntegrityError, InterruptedError, localWriteError } from '../util/errors.js';
import type { Limits } from '../util/limits.js';
import { networkError } from './http-common.js';
import { PROXY_VARS, PartThreads } from './part-threads.js';
import { STREAM_WORKER_JS, type StreamThreadData } from './stream-worker.js';
import { DIRECT_MIN_BYTES } from '../store/writer.js';

/**
 * Single-stream downloads on worker threads (issue #14): a cold build of nvidia-debian12 fetches 562 debs, one GET
 * each, and on the main thread that was ~7 s of CPU (undici's parse, the chunks' garbage, the streaming sha256,
 * the writes) that the licence reads and the copies waited for. Each thread (stream-worker.ts) has its own
 * node:http client, hashes and writes the partial file the main thread claimed; the main thread keeps the claim,
 * the retries, the progress and the landing with its proof (Store.put's `onThread`).
 */

/** A thread's two write buffers, each (page-aligned for O_DIRECT) per download: 8 downloads hold 4 MiB. */
export const STREAM_WRITE_BYTES = 256 << 10;
/** A thread's young generation, MiB: it collects every 4 MiB received anyway (stream-worker.ts), and a build's peak RSS is issue #14's. */
export const STREAM_YOUNG_MB = 4;

/**
 * Threads for single-stream downloads: VAULT_STREAM_THREADS=N (0 turns them off), else 1 where the machine has at
 * least 4 cores, none on smaller ones: on the 2-core dev VM one thread cut a cold nvidia-debian12 build's fetch
 * (12.5-17 s instead of 22-32 s) and its user CPU (-2.5 s), but its isolate and what its thread's malloc arena
 * keeps after it stopped added 12-14 MB to the build's peak RSS (153-156 vs 141-144 MB), over issue #14's 150 MB
 * (bench/results/2026-12-06-build2x-s9-dev.md). None when a proxy is set: HttpClient (undici) stays the one client
 * proxies see.
 */
export function streamThreadsFor(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number {
  if (PROXY_VARS.some((k) => env[k])) return 0;
  const v = env.VAULT_STREAM_THREADS;
  if (v !== undefined && /^\d+$/.test(v)) return Math.min(8, Number(v));
  return cores >= 4 ? 1 : 0;
}

/** A pool of `count` download threads (started on first use; close() stops them). */
export function streamPool(count: number, limits: Partial<Limits> = {}): PartThreads {
  const data: Pick<StreamThreadData, 'directMinBytes'> = { directMinBytes: DIRECT_MIN_BYTES };
  return new PartThreads(count, true, limits, STREAM_WRITE_BYTES, { js: STREAM_WORKER_JS, data, youngMb: STREAM_YOUNG_MB });
}

/** The GET a thread makes for an item (fetch/part-threads.ts withRemote). */
export interface Remote {
  url: string;
  headers: Record<string, string>;
}

/**
 * Store.put's `onThread` for one item: its bytes fetched, hashed and written on `pool`. A transient failure
 * throws the main path's NETWORK/TIMEOUT error (the caller retries and resumes); a status or error the thread
 * does not know hands the attempt back (undefined), so users see the source's own errors and hints.
 */
export function threadWrite(pool: PartThreads, remote: Remote, expect: Pick<Expectation, 'subject' | 'size' | 'pinnedBy'>, signal: AbortSignal): ThreadWrite {
  return async (path, have, onBytes, tee) => {
    const job = { url: remote.url, headers: remote.headers, path, have, size: expect.size, ...(tee ? { tee } : {}) };
    const r = await pool.fetch(job, (n) => onBytes?.(n), signal);
    if (r.end === 'done' && r.size !== undefined && r.digest !== undefined) return { size: r.size, digest: digestOf(r.digest), teeWhole: r.teeWhole === true };
    if (r.end === 'fallback') return undefined;
    if (r.end === 'aborted' || signal.aborted) throw new InterruptedError();
    const cause = Object.assign(new Error(r.message ?? 'download failed'), { code: r.code });
    if (r.end === 'local') throw localWriteError(cause, path);
    if (r.end === 'over') {
      throw new IntegrityError({
        code: 'SIZE_MISMATCH',
        message: `${expect.subject}: the server sends more than the locked ${expect.size} bytes`,
        subject: expect.subject,
        expected: String(expect.size),
        found: `> ${expect.size}`,
        hint: mismatchHint(expect.pinnedBy, false),
      });
    }
    throw networkError(cause, remote.url, expect.subject);
  };
}
