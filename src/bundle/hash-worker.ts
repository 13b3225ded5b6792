/**
 * The hashing loop that verify's threads run, its worker source, and the pool's tuning. The loop is plain JS in a
 * string so that worker threads can run it the same way from tsx, from dist/ and from the one bundled script on
 * the box; the main thread builds the same function from the same string.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, read, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

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

/** A big file on a hashing thread tells its bytes so far this often (a progress line's feed; asked for per job). */
export const TICK_BYTES = 32 << 20;

/** A read of one chunk slower than this came from the disk, not the page cache (a warm 128 KiB read takes ~20 us). */
const SLOW_READ_MS = 0.5;
/** After this many slow reads, a thread reads ahead (one slow read may be the thread being preempted, not the disk). */
const SLOW_READS = 2;
/**
 * A read-ahead chunk: two of them for a thread that met the disk (allocated then). Bigger than a synchronous read
 * because each one is a hand-off to the libuv pool and back (~20 us of CPU: at 128 KiB that was +25% CPU).
 */
const AHEAD_BYTES = 512 * 1024;

// Synchronous reads into one reused buffer keep memory flat and beat streams by ~20% while the bytes are in the page
// cache. Reads that block (the disk: cold files) switch the thread to read-ahead for the rest of its life: the next
// chunk is read into a second buffer on the libuv pool while this thread hashes the current one, so the disk and the
// hashing overlap instead of taking turns (\`ahead\`: 0 never, 2 always, 1 once reads have blocked; the state is kept
// per \`buf\`, one a thread). Given \`into\` (a hash to continue), it leaves the digest to the caller: the main thread
// hashes a file in slices between which Ctrl-C and the workers' messages can be seen.
const HASH_JOB_JS = `
const threads = new WeakMap();
const readAt = (fd, b, len, pos) => new Promise((ok, fail) => read(fd, b, 0, len, pos, (e, n) => (e ? fail(e) : ok(n))));
return async function hashJob(segments, buf, into, tick, ahead = 1, aheadBytes = ${AHEAD_BYTES}) {
  let me = threads.get(buf);
  if (!me) threads.set(buf, (me = { slow: ahead === 2 ? ${SLOW_READS} : 0, pair: undefined }));
  const h = into || createHash('sha256');
  let read = 0, told = 0;
  const take = (b, n) => {
    h.update(n === b.length ? b : b.subarray(0, n));
    read += n;
    if (tick && read - told >= ${TICK_BYTES}) { told = read; tick(read); }
  };
  for (const { file, offset, length } of segments) {
    let fd, pending;
    try {
      fd = openSync(file, 'r');
      let pos = offset, left = length, n = -1;
      while (left > 0 && n !== 0 && (ahead === 0 || me.slow < ${SLOW_READS})) {
        const t = performance.now();
        n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
        if (performance.now() - t > ${SLOW_READ_MS}) me.slow++;
        pos += n; left -= n;
        take(buf, n);
      }
      if (left > 0 && n !== 0) {
        let [cur, next] = me.pair || (me.pair = [Buffer.allocUnsafe(aheadBytes), Buffer.allocUnsafe(aheadBytes)]);
        pending = readAt(fd, cur, Math.min(cur.length, left), pos);
        while (pending) {
          n = await pending;
          pending = undefined;
          pos += n; left -= n;
          if (left > 0 && n !== 0) (pending = readAt(fd, next, Math.min(next.length, left), pos)).catch(() => undefined);
          take(cur, n);
          [cur, next] = [next, cur];
        }
      }
      if (left > 0) break;
    } catch (e) {
      return { hex: '', read, error: String((e && e.message) || e) };
    } finally {
      if (pending) await pending.catch(() => undefined);
      if (fd !== undefined) closeSync(fd);
    }
  }
  return { hex: into ? '' : h.digest('hex'), read };
};`;
const HASH_JOB_DEPS = ['openSync', 'readSync', 'closeSync', 'read', 'createHash'] as const;

export type HashJobFn = (
  segments: readonly Segment[],
  buf: Buffer,
  into?: ReturnType<typeof createHash>,
  tick?: (read: number) => void,
  ahead?: Ahead,
  aheadBytes?: number,
) => Promise<HashResult>;
/** Read-ahead: 0 never, 1 once reads block (the default), 2 always. */
export type Ahead = 0 | 1 | 2;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), shared with the worker threads
export const hashJob = (new Function(...HASH_JOB_DEPS, HASH_JOB_JS) as (...deps: unknown[]) => HashJobFn)(openSync, readSync, closeSync, read, createHash);

/** A worker: one read buffer for its life, one job a message, its result (and ticks, when asked) as messages. */
export const WORKER_JS = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync, read } = require('node:fs');
const { createHash } = require('node:crypto');
const hashJob = (function (${HASH_JOB_DEPS.join(', ')}) {${HASH_JOB_JS}})(${HASH_JOB_DEPS.join(', ')});
const buf = Buffer.allocUnsafe(workerData.chunk);
parentPort.on('message', async ({ id, segments, tick }) => {
  const progress = tick ? (read) => parentPort.postMessage({ id, tick: read }) : undefined;
  parentPort.postMessage({ id, ...(await hashJob(segments, buf, undefined, progress, workerData.ahead, workerData.aheadBytes)) });
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
 * closes, instead of going at once), VAULT_HASH_AHEAD (read-ahead: 0 never, 1 once reads block, 2 always), VAULT_HASH_AHEAD_KIB (its chunk). A value
 * that does not parse leaves the default.
 */
export interface HashTuning {
  readBytes: number;
  maxThreads: number;
  order: 'largest' | 'listed';
  mainHashes: boolean;
  workerOldMb: number;
  retire: boolean;
  ahead: Ahead;
  aheadBytes: number;
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
    ahead: int(env.VAULT_HASH_AHEAD, 0, 2, 1) as Ahead,
    aheadBytes: int(env.VAULT_HASH_AHEAD_KIB, 4, 64 * 1024, AHEAD_BYTES / 1024) * 1024,
  };
}

/** A hashing thread for `tuning`: the smallest heaps V8 takes keep each near its bare cost (~7.5 MB; it allocates next to nothing). */
export function startHashWorker(tuning: HashTuning): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: tuning.workerOldMb, stackSizeMb: 1 };
  return new Worker(WORKER_JS, { eval: true, workerData: { chunk: tuning.readBytes, ahead: tuning.ahead, aheadBytes: tuning.aheadBytes }, resourceLimits });
}
