import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { OpenAt } from '../store/store.js';
import { type Limits, limits as defaults } from '../util/limits.js';
import { TRANSIENT_CODES } from './http-common.js';
import { PART_WORKER_JS, type PartJob, type PartMessage, type PartResult, type PartThreadData } from './part-worker.js';
import type { StreamJob } from './stream-worker.js';

/**
 * Ranged downloads on worker threads (issue #16): one thread parsing HTTP and copying bytes moved ~670 MB/s on the
 * 16-core box, a third of what the link carried. Each thread has its own HTTP client (node:http, native llhttp) and
 * writes its parts straight into the partial file; the main thread keeps the plan, the journal, the retries, the
 * progress and the whole-file hash (fetch/ranged.ts, store/ranged.ts).
 */

/** An opener whose bytes are a plain GET of `url` (with `headers`): a thread may fetch its ranges itself. */
export type RemoteOpenAt = OpenAt & { remote?: { url: string; headers: Record<string, string> } };

/** Marks `openAt` as a plain GET of an http(s) `url`, so ranged downloads may run it on a thread. */
export function withRemote(openAt: OpenAt, url: string, headers: Record<string, string> = {}): RemoteOpenAt {
  if (!/^https?:/i.test(url)) return openAt;
  return Object.assign(openAt, { remote: { url, headers } });
}

/** In automatic mode, files smaller than this stay on the main thread (a thread's start is ~20-30 ms of CPU). */
export const THREAD_MIN_BYTES = 128 << 20;

export const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy'];

/**
 * Threads for ranged downloads: VAULT_FETCH_THREADS=N (0 turns them off; N forces N, for every ranged download,
 * whatever its size: tests and the box's A/B); else 2 where the machine has at least 4 cores, none on smaller ones.
 * Two, not more: on the 16-core box 2 threads fetched within 4-8% of 4 (4 GiB from serve through the pacing proxy:
 * bench/results/2026-12-06-h100-site-verify-s9, -h200-site-verify-s9), when each thread cost 20-30 MB of the build's
 * peak (issue #14's bound is 200 MB). Since then a thread reads plain http into one buffer and reuses its write
 * buffers (part-worker.ts): a 1 GiB model's build here peaks at 151-154 MiB with 2, 157 with 4, 143 with none; 4 may
 * be worth it again once the box measures it. None when a proxy is set: HttpClient (undici) stays the one client
 * proxies see.
 */
export function fetchThreads(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): { threads: number; forced: boolean } {
  if (PROXY_VARS.some((k) => env[k])) return { threads: 0, forced: false };
  const v = env.VAULT_FETCH_THREADS;
  if (v !== undefined && /^\d+$/.test(v)) return { threads: Math.min(8, Number(v)), forced: true };
  return { threads: cores >= 4 ? 2 : 0, forced: false };
}

interface Running {
  worker: Slot;
  onWrote: (n: number) => void;
  done: (r: PartResult) => void;
}

interface Slot {
  w: Worker;
  active: number;
  alive: boolean;
}

let live = 0;
let jobs = 0;
/** Threads of ranged downloads alive in this process, and the part jobs they were given (tests: none is left after a fetch). */
export function fetchThreadStats(): { live: number; jobs: number } {
  return { live, jobs };
}

/** A few threads that fetch parts; started on first use, stopped by close(). */
export class PartThreads {
  private readonly slots: Slot[] = [];
  private readonly running = new Map<number, Running>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly count: number,
    /** Whether files of any size use the threads (VAULT_FETCH_THREADS), not only those of THREAD_MIN_BYTES. */
    readonly forced: boolean,
    private readonly limits: Partial<Limits> = {},
    private readonly writeBytes = 1 << 20,
    /**
     * The threads' script (default: ranged parts, part-worker.ts; stream-worker.ts: whole single-stream files), more
     * of the workerData it reads, and a cap on each thread's young generation (MiB).
     */
    private readonly script: { js: string; data?: Record<string, number>; youngMb?: number } = { js: PART_WORKER_JS },
  ) {}

  /** Whether a file of `size` bytes is fetched on the threads. */
  takes(size: number): boolean {
    return !this.closed && this.count > 0 && (this.forced || size >= THREAD_MIN_BYTES);
  }

  /**
   * Fetches [from, end) of `url` into `path` on the least busy thread; `onWrote` hears every write, in order,
   * before the promise says how the job ended. An abort of `signal` stops it (what arrived is written first).
   */
  fetch(job: Omit<PartJob, 'type' | 'id'> | Omit<StreamJob, 'type' | 'id'>, onWrote: (n: number) => void, signal: AbortSignal): Promise<PartResult> {
    if (signal.aborted) return Promise.resolve({ end: 'aborted' });
    const slot = this.pick();
    if (!slot) return Promise.resolve({ end: 'fallback' });
    const id = this.nextId++;
    jobs++;
    return new Promise((resolve) => {
      const onAbort = () => slot.w.postMessage({ type: 'abort', id });
      signal.addEventListener('abort', onAbort, { once: true });
      slot.active++;
      this.running.set(id, {
        worker: slot,
        onWrote,
        done: (r) => {
          signal.removeEventListener('abort', onAbort);
          slot.active--;
          this.running.delete(id);
          resolve(r);
        },
      });
      slot.w.postMessage({ type: 'get', id, ...job });
    });
  }

  private pick(): Slot | undefined {
    if (this.closed) return undefined;
    while (this.slots.length < this.count) this.slots.push(this.start());
    let best: Slot | undefined;
    for (const s of this.slots) if (s.alive && (!best || s.active < best.active)) best = s;
    return best;
  }

  private start(): Slot {
    const l = { ...defaults, ...this.limits };
    const data: PartThreadData = {
      connectTimeoutMs: l.connectTimeoutMs,
      headersTimeoutMs: l.headersTimeoutMs,
      bodyTimeoutMs: l.bodyTimeoutMs,
      maxRedirections: l.maxRedirections,
      writeBytes: this.writeBytes,
      transient: [...TRANSIENT_CODES],
      ...this.script.data,
    };
    const young = this.script.youngMb ? { maxYoungGenerationSizeMb: this.script.youngMb } : {};
    const w = new Worker(this.script.js, { eval: true, workerData: data, resourceLimits: { maxOldGenerationSizeMb: 32, stackSizeMb: 1, ...young } });
    live++;
    const slot: Slot = { w, active: 0, alive: true };
    w.on('message', (m: PartMessage) => {
      const r = this.running.get(m.id);
      if (!r) return;
      if ('wrote' in m) r.onWrote(m.wrote);
      else r.done(m);
    });
    // A thread that dies (out of memory, a bug) hands its jobs back: the main thread does them.
    const gone = (err?: unknown) => {
      if (!slot.alive) return;
      slot.alive = false;
      live--;
      for (const r of [...this.running.values()])
        if (r.worker === slot) r.done({ end: 'fallback', message: err instanceof Error ? err.message : 'thread stopped' });
    };
    w.on('error', gone);
    w.on('exit', () => gone());
    return slot;
  }

  /** Stops every thread (after the fetch: no job runs any more; any that does is handed back as `fallback`). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.w.terminate().catch(() => undefined)));
  }
}
