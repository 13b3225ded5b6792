/**
 * The hashing loop that verify's threads run, its worker source, and the pool's tuning. The loop is plain JS in a
 * string so that worker threads can run it the same way from tsx, from dist/ and from the one bundled script on
 * the box; the main thread builds the same function from the same string.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A byte range of one file. */
export interface Segment {
  file: string;
  offset: number;
  length: number;
}

export interface HashResult {
  hex: string;
  /** Bytes actually read: less than `length` when the file is shorter. */
  read: number;
  error?: string;
}

/** Below this many bytes in all, hashing on the main thread beats starting worker threads (~50 ms each). */
export const POOL_MIN_BYTES = 64 * 1024 * 1024;

/** A big file on a hashing thread tells its bytes so far this often (a progress line's feed; asked for per job). */
export const TICK_BYTES = 32 << 20;

// Synchronous reads into one reused buffer keep memory flat and beat streams by ~20%. Given \`into\` (a hash to
// continue), it leaves the digest to the caller: the main thread hashes a file in slices between which Ctrl-C and
// the workers' messages can be seen.
const HASH_JOB_JS = `
return function hashJob(segments, buf, into, tick) {
  const h = into || createHash('sha256');
  let read = 0, told = 0;
  for (const { file, offset, length } of segments) {
    let fd;
    try {
      fd = openSync(file, openFlags);
      let pos = offset, left = length;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
        if (n === 0) break;
        h.update(n === buf.length ? buf : buf.subarray(0, n));
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
const HASH_JOB_DEPS = ['openSync', 'readSync', 'closeSync', 'createHash', 'openFlags'] as const;
// Non-blocking: a FIFO put where a listed file was (after it was listed) reads as empty instead of waiting forever
// for a writer (a regular file reads as ever).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export type HashJobFn = (segments: readonly Segment[], buf: Buffer, into?: ReturnType<typeof createHash>) => HashResult;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), shared with the worker threads
export const hashJob = (new Function(...HASH_JOB_DEPS, HASH_JOB_JS) as (...deps: unknown[]) => HashJobFn)(
  openSync,
  readSync,
  closeSync,
  createHash,
  OPEN_FLAGS,
);

/** A worker: one read buffer for its life, one job a message, its result (and ticks, when asked) as messages. */
export const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const openFlags = ${OPEN_FLAGS};
const hashJob = (function (${HASH_JOB_DEPS.join(', ')}) {${HASH_JOB_JS}})(${HASH_JOB_DEPS.join(', ')});
const buf = Buffer.allocUnsafe(workerData.chunk);
// Started early (util/early-hash.ts): first the listed files, taken one at a time from the shared counter; the
// list is dropped once done (a thread lives on for the pool's own jobs).
if (workerData.early) {
  const { jobs, counter } = workerData.early;
  workerData.early = null;
  for (let k = Atomics.add(counter, 0, 1); k < jobs.length; k = Atomics.add(counter, 0, 1)) {
    const progress = (read) => parentPort.postMessage({ early: k, tick: read });
    parentPort.postMessage({ early: k, ...hashJob([{ file: jobs[k].file, offset: 0, length: jobs[k].size }], buf, undefined, progress) });
  }
  parentPort.postMessage({ earlyDone: true });
}
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
 * The most threads that hash at once (the main thread and the workers), whatever --threads asks: a worker costs
 * ~7.5 MB (a V8 heap and a Node environment of its own, the floor whatever its limits), so sixteen hashers
 * (fifteen workers and the main thread) keep verify near 190 MB, and sixteen already read about as fast as the
 * page cache hands out bytes on the 16-core box.
 */
export const MAX_THREADS = 16;

/**
 * The pool's knobs. The defaults are what verify runs with; the bench (bench/box/verify-bench.sh) sets these
 * variables to time variants in one run, and nothing else should: VAULT_HASH_READ_KIB (bytes per read),
 * VAULT_HASH_MAX_THREADS (the cap above, at most 64), VAULT_HASH_ORDER (`largest` first, or `listed`: the order
 * given), VAULT_HASH_MAIN=0 (the main thread only hands out work instead of hashing too), VAULT_HASH_OLD_MB (a
 * worker's old-generation limit), VAULT_HASH_RETIRE=0 (workers the queue has nothing more for stay until the pool
 * closes, instead of going at once). A value that does not parse leaves the default.
 */
export interface HashTuning {
  readBytes: number;
  maxThreads: number;
  order: 'largest' | 'listed';
  mainHashes: boolean;
  workerOldMb: number;
  retire: boolean;
}

export function hashTuning(env: NodeJS.ProcessEnv = process.env): HashTuning {
  const int = (v: string | undefined, min: number, max: number, dflt: number): number => {
    const n = v === undefined || !/^\d+$/.test(v) ? NaN : Number(v);
    return Number.isInteger(n) && n >= min && n <= max ? n : dflt;
  };
  return {
    readBytes: int(env.VAULT_HASH_READ_KIB, 4, 64 * 1024, READ_BYTES / 1024) * 1024,
    maxThreads: int(env.VAULT_HASH_MAX_THREADS, 1, 64, MAX_THREADS),
    order: env.VAULT_HASH_ORDER === 'listed' ? 'listed' : 'largest',
    mainHashes: env.VAULT_HASH_MAIN !== '0',
    workerOldMb: int(env.VAULT_HASH_OLD_MB, 8, 256, 16),
    retire: env.VAULT_HASH_RETIRE !== '0',
  };
}

/** A hashing thread for `tuning`: the smallest heaps V8 takes keep each near its bare cost (~7.5 MB; it allocates next to nothing). */
export function startHashWorker(tuning: HashTuning): Worker {
  return new Worker(WORKER_JS, workerOptions(tuning));
}

/** A hashing thread's Worker options (boot.cjs's early start adds `early` to its workerData: util/early-hash.ts). */
export function workerOptions(tuning: HashTuning): WorkerOptions & { workerData: { chunk: number } } {
  const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: tuning.workerOldMb, stackSizeMb: 1 };
  return { eval: true, workerData: { chunk: tuning.readBytes }, resourceLimits };
}
