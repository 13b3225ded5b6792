import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { InterruptedError } from '../util/errors.js';
import { type HashResult, type HashTuning, type Segment, TICK_BYTES, hashJob, hashTuning, startHashWorker } from './hash-worker.js';

export { type HashResult, type Segment, MAX_THREADS, READ_BYTES, hashTuning } from './hash-worker.js';

/**
 * The bytes of one bundle file: usually one segment (a whole file, or a member of a tar); a member of a
 * split tar that crosses a part boundary has one segment per part it touches.
 */
export interface HashJob {
  segments: readonly Segment[];
  /** Total bytes: the sum of the segments' lengths. */
  length: number;
}

export function wholeFile(file: string, length: number): HashJob {
  return { segments: [{ file, offset: 0, length }], length };
}

/** Below this many bytes in all, hashing on the main thread beats starting worker threads (~50 ms each). */
export const POOL_MIN_BYTES = 64 * 1024 * 1024;

/** The main thread's slices while it hashes beside the workers: short, so a worker that finished waits little for its next job. */
const POOL_SLICE_BYTES = 2 << 20;

/**
 * Threads that hash byte ranges, started ahead of use: verify starts them as soon as the listing shows enough
 * bytes, so their start-up overlaps reading SHA256SUMS and bundle.json. `threads` hashers (at most MAX_THREADS):
 * the main thread is one of them (it would only wait otherwise), the rest are worker threads.
 */
export class HashPool {
  private readonly workers: Worker[];
  private readonly wanted: number; // workers this pool runs (retired ones are started again for a later hash())
  private readonly stopping: Promise<unknown>[] = []; // retired workers' teardown, awaited by close()
  private readonly tuning: HashTuning;
  private readonly started = performance.now();
  private upAt = 0;
  private closed = false;
  readonly spawnMs: number; // the main thread's time in `new Worker`, one after the other (verify --json's threads-spawn)
  constructor(threads: number, chunkBytes?: number, tuning: HashTuning = hashTuning()) {
    this.tuning = chunkBytes ? { ...tuning, readBytes: chunkBytes } : tuning;
    const hashers = Math.max(1, Math.min(threads, this.tuning.maxThreads));
    const n = (this.wanted = this.tuning.mainHashes ? hashers - 1 : hashers);
    let up = 0;
    this.workers = Array.from({ length: n }, () => {
      const w = startHashWorker(this.tuning);
      w.once('online', () => {
        if (++up === n) this.upAt = performance.now();
      });
      return w;
    });
    this.spawnMs = Math.round(performance.now() - this.started);
  }

  /** How many threads hash (the main thread counted when it takes part). */
  get hashers(): number {
    return this.wanted + (this.tuning.mainHashes || this.wanted === 0 ? 1 : 0);
  }

  /** Milliseconds from the pool's start until its last worker was running (undefined while some are not yet). */
  get startMs(): number | undefined {
    return this.wanted === 0 ? 0 : this.upAt ? Math.round(this.upAt - this.started) : undefined;
  }

  /**
   * A worker the queue has nothing more for goes at once: its teardown (~1 ms of its own thread, joined by the main
   * thread) overlaps the other threads' last files instead of adding to verify's end (its threads-stop step).
   */
  private retire(w: Worker): void {
    if (!this.tuning.retire) return;
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.stopping.push(w.terminate().catch(() => undefined));
  }

  /**
   * Jobs are handed out largest first, so one huge file does not end up last on a single thread. An abort
   * (Ctrl-C) terminates the workers at once and rejects with InterruptedError: they cannot finish a file.
   */
  async hash(jobs: readonly HashJob[], o: Progress & { signal?: AbortSignal } = {}): Promise<HashResult[]> {
    const { signal } = o;
    if (signal?.aborted) throw interrupted();
    if (this.closed) throw new Error('the hashing threads were stopped');
    const results: HashResult[] = new Array<HashResult>(jobs.length);
    const order = jobs.map((_, i) => i);
    if (this.tuning.order === 'largest') order.sort((a, b) => jobs[b]!.length - jobs[a]!.length);
    let next = 0;
    const take = (): number | undefined => (next < order.length ? order[next++] : undefined);
    const done = (id: number, r: HashResult) => {
      results[id] = r;
      o.onDone?.(jobs[id]!, r);
    };
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        void this.close();
        reject(interrupted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined); // rejected only on abort, where the race below reports it
    // A later call (a damaged split bundle's parts, named after the hash step) starts retired workers again, as many as it has jobs for.
    while (this.workers.length < Math.min(this.wanted, jobs.length)) this.workers.push(startHashWorker(this.tuning));
    const busy = this.workers.slice(0, Math.min(this.workers.length, jobs.length));
    for (const idle of this.workers.slice(busy.length)) this.retire(idle);
    const here = this.tuning.mainHashes || busy.length === 0 ? [this.hashHereToo(jobs, take, done, o)] : [];
    const retire = (w: Worker) => this.retire(w);
    const work = Promise.all([...busy.map((w) => feedWorker(w, jobs, take, done, o, retire)), ...here]);
    work.catch(() => {
      next = order.length; // a thread failed or Ctrl-C: nothing more is handed out, the main thread stops too
    });
    try {
      await Promise.race([work, aborted]);
      return results;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The main thread's share: jobs from the same queue, hashed in short slices between which the workers' messages are handled. */
  private async hashHereToo(
    jobs: readonly HashJob[],
    take: () => number | undefined,
    done: (id: number, r: HashResult) => void,
    o: Progress & { signal?: AbortSignal },
  ): Promise<void> {
    const buf = Buffer.allocUnsafe(this.tuning.readBytes);
    let since = performance.now();
    for (let id = take(); id !== undefined; id = take()) {
      // Small jobs back to back would never let the event loop turn: the workers' results (and their next jobs) wait.
      if (performance.now() - since > 1) {
        await new Promise((r) => setImmediate(r));
        since = performance.now();
      }
      const job = jobs[id]!;
      let told = 0;
      const onBytes = o.onBytes
        ? (j: HashJob, read: number) => {
            if (read - told >= TICK_BYTES) o.onBytes?.(j, (told = read));
          }
        : undefined;
      const [r] = await hashHere([job], { buf, sliceBytes: POOL_SLICE_BYTES, ...(o.signal ? { signal: o.signal } : {}), ...(onBytes ? { onBytes } : {}) });
      if (this.closed) throw interrupted();
      done(id, r!);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers.map((w) => w.terminate()), ...this.stopping]);
  }
}

/** One worker's share: the next job each time it hands back a result, until none is left. */
function feedWorker(
  w: Worker,
  jobs: readonly HashJob[],
  take: () => number | undefined,
  done: (id: number, r: HashResult) => void,
  o: Progress & { signal?: AbortSignal },
  retire: (w: Worker) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const stop = () => {
      w.off('message', onMessage);
      w.off('error', reject);
      w.off('exit', onExit);
    };
    const feed = () => {
      const id = take();
      if (id === undefined) {
        stop();
        retire(w);
        return resolve();
      }
      w.postMessage({ id, segments: jobs[id]!.segments, tick: Boolean(o.onBytes) });
    };
    const onMessage = (m: (HashResult & { id: number; tick?: undefined }) | { id: number; tick: number }) => {
      if (m.tick !== undefined) return o.onBytes?.(jobs[m.id]!, m.tick);
      done(m.id, { hex: m.hex, read: m.read, ...(m.error ? { error: m.error } : {}) });
      feed();
    };
    // A worker that dies (out of memory, terminated) would otherwise leave verify waiting forever.
    const onExit = (code: number) => {
      stop();
      reject(o.signal?.aborted ? interrupted() : new Error(`a hashing thread exited (code ${code})`));
    };
    w.on('message', onMessage);
    w.on('error', reject);
    w.on('exit', onExit);
    feed();
  });
}

/** The one error of an interrupted hashing: nothing was written, so a rerun simply checks again. */
export function interrupted(): InterruptedError {
  return new InterruptedError('nothing was changed; run the same command again to check the whole bundle');
}

/** A main-thread slice: between two of them, Ctrl-C (the abort signal) gets its turn on the event loop. */
const SLICE_BYTES = 8 << 20;

/**
 * The same hashing on the calling thread: for a few megabytes, cheaper than any worker start-up. It yields to
 * the event loop between 8 MiB slices of a file and, every 10 ms, between files, so an abort stops it within
 * one slice.
 */
export async function hashHere(
  jobs: readonly HashJob[],
  o: { chunkBytes?: number; buf?: Buffer; sliceBytes?: number; signal?: AbortSignal } & Progress = {},
): Promise<HashResult[]> {
  const buf = o.buf ?? Buffer.allocUnsafe(o.chunkBytes ?? hashTuning().readBytes);
  const slice = o.sliceBytes ?? SLICE_BYTES;
  const out: HashResult[] = [];
  let since = performance.now();
  const breathe = async (now = false) => {
    if (now || performance.now() - since > 10) {
      await new Promise((r) => setImmediate(r));
      since = performance.now();
    }
    if (o.signal?.aborted) throw interrupted();
  };
  for (const job of jobs) {
    await breathe();
    if (job.length <= slice) {
      out.push(hashJob(job.segments, buf));
      o.onDone?.(job, out.at(-1)!);
      continue;
    }
    const h = createHash('sha256');
    let read = 0;
    let error: string | undefined;
    for (const part of slices(job.segments, slice)) {
      const r = hashJob(part.segments, buf, h);
      read += r.read;
      if (r.error) error = r.error;
      if (r.error || r.read < part.length) break; // a short file: the digest of what is there, as a worker gives
      o.onBytes?.(job, read);
      await breathe(true);
    }
    out.push(error ? { hex: '', read, error } : { hex: h.digest('hex'), read });
    o.onDone?.(job, out.at(-1)!);
  }
  return out;
}

/** Segments cut into consecutive slices of at most `max` bytes. */
function* slices(segments: readonly Segment[], max: number): Generator<{ segments: Segment[]; length: number }> {
  let cur: Segment[] = [];
  let len = 0;
  for (const seg of segments) {
    let off = seg.offset;
    let left = seg.length;
    while (left > 0) {
      const n = Math.min(left, max - len);
      cur.push({ file: seg.file, offset: off, length: n });
      len += n;
      off += n;
      left -= n;
      if (len === max) {
        yield { segments: cur, length: len };
        cur = [];
        len = 0;
      }
    }
  }
  if (len > 0) yield { segments: cur, length: len };
}

/** Progress callbacks: each job as it is done (in the order they finish), and a big job's bytes so far on the calling thread. */
export interface Progress {
  onDone?: (job: HashJob, r: HashResult) => void;
  onBytes?: (job: HashJob, read: number) => void;
}

/** Hashes many byte ranges: on every core when they add up to much, else right here. An abort rejects with InterruptedError. */
export async function hashAll(
  jobs: readonly HashJob[],
  o: { threads?: number; chunkBytes?: number; pool?: HashPool; signal?: AbortSignal } & Progress = {},
): Promise<HashResult[]> {
  if (jobs.length === 0) return [];
  const each = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onDone ? { onDone: o.onDone } : {}), ...(o.onBytes ? { onBytes: o.onBytes } : {}) };
  if (o.pool) return o.pool.hash(jobs, each);
  const total = jobs.reduce((n, j) => n + j.length, 0);
  if (total < POOL_MIN_BYTES) return hashHere(jobs, each);
  const pool = new HashPool(Math.min(o.threads ?? availableParallelism(), jobs.length), o.chunkBytes);
  try {
    return await pool.hash(jobs, each);
  } finally {
    await pool.close();
  }
}
