import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Digest, digestOf } from '../store/digest.js';
import { InterruptedError, localWriteError } from '../util/errors.js';

/** A byte range of one file. */
export interface Segment {
  file: string;
  offset: number;
  length: number;
}

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

export interface HashResult {
  hex: string;
  /** Bytes actually read: less than `length` when the file is shorter. */
  read: number;
  error?: string;
}

/** A big file on a hashing thread tells its bytes so far this often (a progress line's feed; asked for per job). */
const TICK_BYTES = 32 << 20;

// One segment-hashing loop, in plain JS so that worker threads can run it from a string the same way from
// tsx, from dist/ and from the one bundled script on the box; the main thread builds the same function.
// Synchronous reads into one reused buffer keep memory flat and beat streams by ~20%. Given \`into\` (a hash
// to continue), it leaves the digest to the caller: the main thread hashes a file in slices between which
// Ctrl-C can be seen.
const HASH_JOB_JS = `
return function hashJob(segments, buf, into, tick) {
  const h = into || createHash('sha256');
  let read = 0, told = 0;
  for (const { file, offset, length } of segments) {
    let fd;
    try {
      fd = openSync(file, 'r');
      let pos = offset, left = length;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n; left -= n; read += n;
        if (tick && read - told >= ${TICK_BYTES}) { told = read; tick(read); }
      }
      if (left > 0) break;
    } catch (e) {
      return { hex: '', read, error: String((e && e.message) || e) };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return { hex: into ? '' : h.digest('hex'), read };
};`;
const HASH_JOB_DEPS = ['openSync', 'readSync', 'closeSync', 'createHash'] as const;

type HashJobFn = (segments: readonly Segment[], buf: Buffer, into?: ReturnType<typeof createHash>) => HashResult;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), shared with the worker threads
const hashJob = (new Function(...HASH_JOB_DEPS, HASH_JOB_JS) as (...deps: unknown[]) => HashJobFn)(openSync, readSync, closeSync, createHash);

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const hashJob = (function (${HASH_JOB_DEPS.join(', ')}) {${HASH_JOB_JS}})(${HASH_JOB_DEPS.join(', ')});
const buf = Buffer.allocUnsafe(workerData.chunk);
parentPort.on('message', ({ id, segments, tick }) => {
  const progress = tick ? (read) => parentPort.postMessage({ id, tick: read }) : undefined;
  parentPort.postMessage({ id, ...hashJob(segments, buf, undefined, progress) });
});
`;

/**
 * Bytes per read. Small enough that the bytes just read are still in the core's L2 cache when SHA-256 runs
 * over them: measured on a 512 MiB file (AMD EPYC, SHA-NI, 512 KiB L2 a core), CPU per pass 675-780 ms with
 * 4 MiB reads, 717 ms with 512 KiB, 680 ms with 192 KiB, 483 ms with 128 KiB, 499 ms with 64 KiB, 529 ms
 * with 32 KiB (more syscalls); `openssl dgst -sha256` (8 KiB reads) 500 ms.
 */
export const READ_BYTES = 128 * 1024;

/**
 * The most hashing threads a pool starts, whatever --threads asks: each costs ~7 MB of memory, and sixteen
 * already read faster than the page cache hands out bytes on the 16-core box (verify's RSS stays under 200 MB).
 */
export const MAX_THREADS = 16;

/** Below this many bytes in all, hashing on the main thread beats starting worker threads (~50 ms each). */
export const POOL_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Worker threads that hash byte ranges, started ahead of use: verify starts them as soon as the listing shows
 * enough bytes, so their start-up overlaps reading SHA256SUMS and bundle.json.
 */
export class HashPool {
  private readonly workers: Worker[];
  private closed = false;
  constructor(threads: number, chunkBytes = READ_BYTES) {
    // A worker allocates next to nothing (one read buffer, small messages): the smallest heaps V8 takes keep
    // each near its bare cost (~7 MB: a Node environment of its own), and at most MAX_THREADS of them.
    const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, stackSizeMb: 1 };
    const n = Math.max(1, Math.min(threads, MAX_THREADS));
    this.workers = Array.from({ length: n }, () => new Worker(WORKER, { eval: true, workerData: { chunk: chunkBytes }, resourceLimits }));
  }

  /**
   * Jobs are handed out largest first, so one huge file does not end up last on a single worker. An abort
   * (Ctrl-C) terminates the workers at once and rejects with InterruptedError: they cannot finish a file.
   */
  async hash(jobs: readonly HashJob[], o: Progress & { signal?: AbortSignal } = {}): Promise<HashResult[]> {
    const { signal } = o;
    if (signal?.aborted) throw interrupted();
    if (this.closed) throw new Error('the hashing threads were stopped');
    const results: HashResult[] = new Array<HashResult>(jobs.length);
    const order = jobs.map((_, i) => i).sort((a, b) => jobs[b]!.length - jobs[a]!.length);
    let next = 0;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        void this.close();
        reject(interrupted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined); // rejected only on abort, where the race below reports it
    const work = Promise.all(
      this.workers.slice(0, Math.max(1, Math.min(this.workers.length, jobs.length))).map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const stop = () => {
              w.off('message', onMessage);
              w.off('error', reject);
              w.off('exit', onExit);
            };
            const feed = () => {
              if (next >= order.length) {
                stop();
                return resolve();
              }
              const id = order[next++]!;
              w.postMessage({ id, segments: jobs[id]!.segments, tick: Boolean(o.onBytes) });
            };
            const onMessage = (m: (HashResult & { id: number; tick?: undefined }) | { id: number; tick: number }) => {
              if (m.tick !== undefined) return o.onBytes?.(jobs[m.id]!, m.tick);
              results[m.id] = { hex: m.hex, read: m.read, ...(m.error ? { error: m.error } : {}) };
              o.onDone?.(jobs[m.id]!, results[m.id]!);
              feed();
            };
            // A worker that dies (out of memory, terminated) would otherwise leave verify waiting forever.
            const onExit = (code: number) => {
              stop();
              reject(signal?.aborted ? interrupted() : new Error(`a hashing thread exited (code ${code})`));
            };
            w.on('message', onMessage);
            w.on('error', reject);
            w.on('exit', onExit);
            feed();
          }),
      ),
    );
    try {
      await Promise.race([work, aborted]);
      return results;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
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
export async function hashHere(jobs: readonly HashJob[], o: { chunkBytes?: number; signal?: AbortSignal } & Progress = {}): Promise<HashResult[]> {
  const buf = Buffer.allocUnsafe(o.chunkBytes ?? READ_BYTES);
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
    if (job.length <= SLICE_BYTES) {
      out.push(hashJob(job.segments, buf));
      o.onDone?.(job, out.at(-1)!);
      continue;
    }
    const h = createHash('sha256');
    let read = 0;
    let error: string | undefined;
    for (const slice of slices(job.segments, SLICE_BYTES)) {
      const r = hashJob(slice.segments, buf, h);
      read += r.read;
      if (r.error) error = r.error;
      if (r.error || r.read < slice.length) break; // a short file: the digest of what is there, as a worker gives
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

/**
 * The digest of a file's first `size` bytes (all of them: the caller knows its size), hashed on a worker thread of
 * its own when it is big: a ranged download's proof, a bundle copy's. A shorter file gives the digest of what is there.
 */
export async function hashOnThread(path: string, size: number, signal: AbortSignal): Promise<Digest> {
  const [r] = await hashAll([wholeFile(path, size)], { threads: 1, signal });
  if (!r || r.error) throw localWriteError(new Error(r?.error ?? 'no result'), path);
  return digestOf(r.hex);
}
