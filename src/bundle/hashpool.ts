import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { takeEarlyHashing, takeEarlyProcs } from '../util/early-hash.js';
import { hashProgram, procQueue } from '../util/hash-procs.js';
import { type HashResult, type HashTuning, POOL_MIN_BYTES, TICK_BYTES, hashTuning, startHashWorker } from '../util/hash-worker.js';
import { EarlyShare } from './early-share.js';
import { type HashJob, type Progress, hashHere, interrupted } from './hash-here.js';
import { ProcShare, forProcess } from './proc-share.js';

export { type HashResult, type Segment, MAX_THREADS, POOL_MIN_BYTES, READ_BYTES, hashTuning } from '../util/hash-worker.js';
export { type HashJob, type Progress, hashHere, interrupted, wholeFile } from './hash-here.js';

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
  private readonly own: number; // of them started here, not taken over from boot.cjs's early start (util/early-hash.ts)
  private readonly early: EarlyShare | undefined;
  private earlyCovered = 0;
  private readonly stopping: Promise<unknown>[] = []; // retired workers' teardown, awaited by close()
  private readonly tuning: HashTuning;
  private readonly started = performance.now();
  private upAt = 0;
  private closed = false;
  /** Where the box's sha256sum runs OpenSSL's SHA-256: its processes hash the big whole files (bundle/proc-share.ts). */
  private readonly procs: ProcShare | undefined;
  readonly spawnMs: number; // the main thread's time in `new Worker`, one after the other (verify --json's threads-spawn)
  constructor(threads: number, chunkBytes?: number, tuning: HashTuning = hashTuning(), o: { procs?: boolean } = {}) {
    this.tuning = chunkBytes ? { ...tuning, readBytes: chunkBytes } : tuning;
    const hashers = Math.max(1, Math.min(threads, this.tuning.maxThreads));
    const n = (this.wanted = this.tuning.mainHashes ? hashers - 1 : hashers);
    // boot.cjs's early threads were started with the default tuning, the main thread hashing beside them.
    // Processes only for whole files (not a tar's members), and with more than one hasher (--threads 1: this thread alone).
    const program = chunkBytes || o.procs === false || threads < 2 ? undefined : hashProgram();
    const earlyProcs = program ? takeEarlyProcs() : undefined;
    this.procs = program ? new ProcShare(earlyProcs?.procs ?? procQueue(program, threads), earlyProcs) : undefined;
    let early = n > 0 && !chunkBytes && this.tuning.mainHashes && !earlyProcs ? takeEarlyHashing() : undefined;
    if (early?.failed) {
      // One died before verify got here (out of memory?): nothing of theirs is used, fresh threads hash it all.
      for (const w of early.workers) void w.terminate();
      early = undefined;
    }
    this.early = early ? new EarlyShare(early) : undefined;
    const adopted = this.early?.workers ?? [];
    // With processes and no early threads, threads start only for jobs the processes cannot take (a tar's members).
    const own = (this.own = this.procs && !this.early ? 0 : Math.max(0, n - adopted.length));
    let up = 0;
    const fresh = Array.from({ length: own }, () => {
      const w = startHashWorker(this.tuning);
      w.once('online', () => {
        if (++up === own) this.upAt = performance.now();
      });
      return w;
    });
    this.workers = [...adopted, ...fresh];
    this.spawnMs = Math.round(performance.now() - this.started);
  }

  /** How many threads hash (the main thread counted when it takes part). */
  get hashers(): number {
    return this.wanted + (this.tuning.mainHashes || this.wanted === 0 ? 1 : 0);
  }

  /** What hashes the big files: these threads, or the box's sha256sum (openssl) processes, and how many were started. */
  get by(): { by: 'threads' | 'sha256sum' | 'openssl'; processes?: number } {
    return this.usesProcs ? { by: this.procs!.queue.name, processes: this.procs!.queue.started } : { by: 'threads' };
  }

  private get usesProcs(): boolean {
    return this.procs !== undefined && !this.early;
  }

  /** Milliseconds from the pool's start until its last worker was running (undefined while some are not yet). */
  get startMs(): number | undefined {
    if (this.wanted === 0) return 0;
    if ((this.own > 0 && !this.upAt) || (this.early && this.early.upAt === undefined)) return undefined;
    return Math.max(0, Math.round(Math.max(this.upAt, this.early?.upAt ?? 0) - this.started));
  }

  /** Jobs of the first hash() whose digests came from the early list (hashed by the threads boot.cjs started, or here). */
  get earlyFiles(): number {
    return this.earlyCovered;
  }

  /** How long before this pool boot.cjs started the threads it took over (undefined: it took none). */
  get earlyMs(): number | undefined {
    const at = this.early?.startedAt ?? this.procs?.earlyStartedAt;
    return at === undefined ? undefined : Math.round(this.started - at);
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
    if (o.signal?.aborted) throw interrupted();
    if (this.closed) throw new Error('the hashing threads were stopped');
    return this.usesProcs ? this.hashWithProcs(jobs, o) : this.hashOnThreads(jobs, o);
  }

  /**
   * Big whole files to the processes; the rest meanwhile here (or on threads, when it adds up to much); a file a
   * process handed back is hashed here last, which names its exact error.
   */
  private async hashWithProcs(jobs: readonly HashJob[], o: Progress & { signal?: AbortSignal }): Promise<HashResult[]> {
    const results: HashResult[] = new Array<HashResult>(jobs.length);
    const done = (id: number, r: HashResult) => {
      results[id] = r;
      o.onDone?.(jobs[id]!, r);
    };
    const ids = jobs.map((_, i) => i);
    const big = ids.filter((i) => forProcess(jobs[i]!));
    const rest = ids.filter((i) => !forProcess(jobs[i]!));
    // Hashed here or on threads: each told to onDone as it is done (by those), kept in its place once all are.
    const here = async (some: number[], threads: boolean) => {
      if (some.length === 0) return;
      const sub = some.map((i) => jobs[i]!);
      const rs = threads ? await this.hashOnThreads(sub, o) : await hashHere(sub, { ...o, sliceBytes: POOL_SLICE_BYTES });
      rs.forEach((r, k) => (results[some[k]!] = r));
    };
    const restBytes = rest.reduce((n, i) => n + jobs[i]!.length, 0);
    const byProcs = this.procs!.run(jobs, big, done, o);
    byProcs.catch(() => undefined); // awaited below
    try {
      await here(rest, restBytes >= POOL_MIN_BYTES);
      const back = await byProcs; // a program that fails every file: all of them, on threads then
      await here(back, back.reduce((n, i) => n + jobs[i]!.length, 0) >= POOL_MIN_BYTES);
    } catch (err) {
      void this.close(); // as on threads: a failed or interrupted pool takes no more work
      throw err;
    }
    return results;
  }

  private async hashOnThreads(jobs: readonly HashJob[], o: Progress & { signal?: AbortSignal }): Promise<HashResult[]> {
    const { signal } = o;
    const results: HashResult[] = new Array<HashResult>(jobs.length);
    // The first hash() takes over what boot.cjs's threads hash: those jobs are not handed out again.
    const claim = this.early?.claim(jobs);
    if (claim) this.earlyCovered = claim.covered.size;
    const order = jobs.map((_, i) => i).filter((i) => !claim?.covered.has(i));
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
    // Early threads still hashing the early list stay (they take the rest once drained), whatever the job count.
    const busy = claim ? [...this.workers] : this.workers.slice(0, Math.min(this.workers.length, jobs.length));
    for (const idle of this.workers.slice(busy.length)) this.retire(idle);
    let stopped = false;
    const takeHere = claim ? () => (stopped ? undefined : (claim.takeHere() ?? take())) : take;
    const here = this.tuning.mainHashes || busy.length === 0 ? [this.hashHereToo(jobs, takeHere, done, o)] : [];
    const retire = (w: Worker) => this.retire(w);
    const feeds = busy.map((w) => (claim ? claim.drained(w) : Promise.resolve()).then(() => feedWorker(w, jobs, take, done, o, retire)));
    const onBytes = o.onBytes;
    const followed = claim ? [claim.follow(done, onBytes ? (i, read) => onBytes(jobs[i]!, read) : undefined)] : [];
    const work = Promise.all([...feeds, ...here, ...followed]);
    work.catch(() => {
      next = order.length; // a thread failed or Ctrl-C: nothing more is handed out, the main thread stops too
      stopped = true;
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
    this.procs?.close();
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
      if (m.id === undefined) return; // defensive: an early thread's messages (util/early-hash.ts) all come before it is fed
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
