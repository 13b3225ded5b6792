/**
 * Early hashing: `verify <folder>` through the carried runtime (runtime/boot.cjs, what ./verify and ./vault-bundle
 * run) starts its hashing threads before the CLI has loaded, on the files the folder's SHA256SUMS lists, largest
 * first; verify's pool (bundle/hashpool.ts) takes the threads over and uses an early digest only for a job of the
 * very same file and size. On the 16-core box the CLI's start and verify's first steps (reading SHA256SUMS and
 * bundle.json) were ~0.27 s of a 16 GiB verify's 1.5 s, during which the threads were still booting: now they boot
 * and hash meanwhile (issue #14's box figure).
 *
 * Nothing here decides anything: verify still lists the folder, reads and checks SHA256SUMS and bundle.json, and
 * judges every digest itself; an early digest stands in for its own only where its stat of the file gives the same
 * fileStamp (below). The early start reads only what lstat showed a regular file in a folder really inside the
 * bundle, opened non-blocking (a FIFO swapped in later reads as empty); anything unexpected (another command, a
 * tar, a split folder, a small bundle or one of very many files, an unreadable list, a knob of the bench set)
 * leaves everything to verify as before. VAULT_EARLY_HASH=0 turns it off (the bench's `no-early` row).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { MAX_PROCS, PROC_CHOOSE_JS, PROC_MIN_BYTES, PROC_QUEUE_JS, type ProcQueue } from './hash-procs.js';
import { type HashResult, MAX_THREADS, POOL_MIN_BYTES, WORKER_JS, hashTuning, workerOptions } from './hash-worker.js';

/** The global (a registered symbol) where boot.cjs leaves the early threads for verify's pool. */
export const EARLY_KEY = 'vault-bundle.early-hashing';
/** The same for the early hashing processes (util/hash-procs.ts), where the box's sha256sum hashes big files. */
export const EARLY_PROCS_KEY = 'vault-bundle.early-procs';

/** A listed file as the early threads hash it: whole, `size` bytes (its size when listed), and its fileStamp then. */
export interface EarlyJob {
  file: string;
  size: number;
  stamp: string;
}

/**
 * A file's identity and times: an early digest counts for verify's job only where verify's own stat of the file
 * gives the same stamp. A write in between changes mtime and ctime (ctime cannot be set back), so the digest is
 * then of the bytes verify would read: the verdict is the one verify gives without early hashing.
 */
export const fileStamp = (st: FileStat): string => stampOf(st);

type FileStat = { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number };
// One text for boot.cjs (which carries it) and for verify's listing (above): the two stamps must be the same string.
const STAMP_JS = `(st) => st.dev + ':' + st.ino + ':' + st.size + ':' + st.mtimeMs + ':' + st.ctimeMs`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source, the one boot.cjs carries
const stampOf = (new Function(`return ${STAMP_JS}`) as () => (st: FileStat) => string)();

/** What boot.cjs hands over: the threads, their jobs, the shared counter, and what has come back so far. */
export interface EarlyHashing {
  workers: Worker[];
  jobs: EarlyJob[];
  /** The next job's index, taken with Atomics.add by every thread (the main thread too, once verify runs). */
  counter: Int32Array;
  results: (HashResult | undefined)[];
  /** Threads that took the last job (they then wait for the pool's own jobs, as any hashing thread). */
  drained: Set<Worker>;
  /** A thread that died before it took its last early job (out of memory, killed): its job never comes back. */
  failed?: Error;
  startedAt: number;
  /** performance.now() when the last thread was up. */
  upAt?: number;
  /** What the pool that takes the threads over is told, as it comes. */
  hooks: { result?(k: number): void; tick?(k: number, read: number): void; drained?(w: Worker): void; failed?(err: Error): void };
}

/** What boot.cjs hands over where processes hash: the queue, the big files given to it, and their digests so far. */
export interface EarlyProcs {
  procs: ProcQueue;
  jobs: EarlyJob[];
  /** A digest (hex); null: handed back (the pool hashes that file itself); undefined: not yet. */
  results: (string | null | undefined)[];
  startedAt: number;
  hooks: { result?(k: number): void };
  /** Set by the pool that takes them over (bundle/proc-share.ts). */
  claimed?: boolean;
}

// Options that take a value (the CLI's global ones and verify's): the command and the folder are the other words.
const VALUED = ['--cache-dir', '--concurrency', '--streams', '--threads', '--base', '--key'];

/**
 * At most this many lines in SHA256SUMS: listing a file costs boot.cjs's main thread an lstat (and a realpath a
 * folder) before the CLI loads, and every thread gets its own copy of the list. The bundles whose verify this is
 * for hold a few hundred files; one of 100,000 small files leaves its hashing to verify.
 */
export const EARLY_MAX_FILES = 4096;

/**
 * The start, as JS source (boot.cjs carries it as text): `(EARLY_JS)(require, argv, env)` with argv the CLI's
 * arguments; it starts the hashing processes at once, or returns a function that starts the threads (boot.cjs
 * calls it once the CLI is compiled), or does nothing. Plain JS for the same reason as the hashing loop (util/hash-worker.ts): one text, run the same from
 * boot.cjs and in tests.
 */
export const EARLY_JS = `function earlyHashing(require, argv, env) {
  try {
    if (env.VAULT_EARLY_HASH === '0' || Object.keys(env).some((k) => k.startsWith('VAULT_HASH_'))) return;
    const valued = new Set(${JSON.stringify(VALUED)});
    let cmd, dir, threads;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a.startsWith('--threads=')) threads = a.slice(10);
      else if (valued.has(a)) { if (a === '--threads') threads = argv[i + 1]; i++; }
      else if (a === '--') return;
      else if (a.startsWith('-')) continue;
      else if (cmd === undefined) { cmd = a; if (cmd !== 'verify') return; }
      else if (dir === undefined) dir = a;
      else return;
    }
    if (dir === undefined) return;
    const n = threads === undefined ? require('node:os').availableParallelism() : /^[0-9]+$/.test(threads) ? Number(threads) : 0;
    const workers = Math.min(n, ${MAX_THREADS}) - 1;
    if (workers < 1) return;
    const fs = require('node:fs');
    const path = require('node:path');
    if (!fs.statSync(dir).isDirectory() || fs.existsSync(path.join(dir, 'parts.json'))) return;
    const sums = path.join(dir, 'SHA256SUMS');
    if (fs.statSync(sums).size > 64 * 1024 * 1024) return;
    const lines = fs.readFileSync(sums, 'utf8').split('\\n');
    if (lines.length > ${EARLY_MAX_FILES} + 1) return;
    const root = fs.realpathSync.native(dir) + path.sep;
    // A listed file is read only where it is a regular file (not a link) in a folder that is really inside the bundle.
    const inside = new Map();
    const within = (folder) => {
      if (!inside.has(folder)) inside.set(folder, (fs.realpathSync.native(folder) + path.sep).startsWith(root));
      return inside.get(folder);
    };
    const stampOf = ${STAMP_JS};
    const jobs = [];
    let total = 0;
    for (const line of lines) {
      const m = /^[0-9a-f]{64} [ *]([^\\\\\\r]+)$/.exec(line);
      if (!m || m[1].startsWith('/') || m[1].split('/').some((p) => p === '' || p === '.' || p === '..')) continue;
      const file = path.resolve(dir, m[1]);
      try {
        const st = fs.lstatSync(file);
        if (!st.isFile() || !within(path.dirname(file))) continue;
        jobs.push({ file, size: st.size, stamp: stampOf(st) });
        total += st.size;
      } catch {}
    }
    if (total < ${POOL_MIN_BYTES}) return;
    jobs.sort((a, b) => b.size - a.size);
    // Where the box's sha256sum runs OpenSSL's SHA-256, processes hash the big files (util/hash-procs.ts).
    const program = (${PROC_CHOOSE_JS})(env, fs);
    const big = program ? jobs.filter((j) => j.size >= ${PROC_MIN_BYTES}) : [];
    if (big.length > 0) {
      const q = (${PROC_QUEUE_JS})(require('node:child_process').spawn, fs, program, Math.min(n, ${MAX_PROCS}));
      q.unref();
      const p = { procs: q, jobs: big, results: [], startedAt: performance.now(), hooks: {} };
      globalThis[Symbol.for('${EARLY_PROCS_KEY}')] = p;
      process.once('exit', () => q.close());
      big.forEach((j, k) => q.add({ file: j.file, size: j.size, stamp: j.stamp, stampOf, cb: (hex) => { p.results[k] = hex === undefined ? null : hex; p.hooks.result && p.hooks.result(k); } }));
      return;
    }
    // Threads start once the CLI is compiled (boot.cjs calls what this returns): a worker started before V8
    // compiles the script can get its code cache rejected (test/code-cache.test.ts saw it). Processes start at once.
    return () => { try {
    const { Worker } = require('node:worker_threads');
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const options = ${JSON.stringify(workerOptions(hashTuning({})))};
    const s = { workers: [], jobs, counter, results: [], drained: new Set(), startedAt: performance.now(), hooks: {} };
    // Left for the pool at once: should a later thread fail to start, those already hashing are still taken over.
    globalThis[Symbol.for('${EARLY_KEY}')] = s;
    let up = 0;
    for (let i = 0; i < workers; i++) {
      const w = new Worker(${JSON.stringify(WORKER_JS)}, { ...options, workerData: { ...options.workerData, early: { jobs, counter } } });
      w.once('online', () => { if (++up === workers) s.upAt = performance.now(); });
      w.on('message', (m) => {
        if (m.earlyDone) { s.drained.add(w); s.hooks.drained && s.hooks.drained(w); }
        else if (m.early === undefined) return;
        else if (m.tick !== undefined) s.hooks.tick && s.hooks.tick(m.early, m.tick);
        else { s.results[m.early] = m; s.hooks.result && s.hooks.result(m.early); }
      });
      // A thread that took its last early job owes nothing when it ends (the pool retires it so).
      const fail = (e) => { if (!s.failed && !s.drained.has(w)) { s.failed = e instanceof Error ? e : new Error('a hashing thread exited (code ' + e + ')'); s.hooks.failed && s.hooks.failed(s.failed); } };
      w.on('error', fail);
      w.on('exit', fail);
      // After the listeners (a 'message' listener refs the thread again): the pool refs those it takes; a run that
      // never gets there (a usage error, a bundle refused before hashing) ends without waiting for them.
      w.unref();
      s.workers.push(w);
    }
    } catch {} };
  } catch {}
}`;

/** The early threads boot.cjs started, for the one pool that takes them over (undefined after that, or if none). */
export const takeEarlyHashing = (): EarlyHashing | undefined => takeGlobal<EarlyHashing>(EARLY_KEY);

/** The early processes boot.cjs started, for the one pool that takes them over (undefined after that, or if none). */
export const takeEarlyProcs = (): EarlyProcs | undefined => takeGlobal<EarlyProcs>(EARLY_PROCS_KEY);

/** What boot.cjs left under a registered symbol, taken once. */
function takeGlobal<T>(name: string): T | undefined {
  const g = globalThis as Record<symbol, T | undefined>;
  const key = Symbol.for(name);
  const s = g[key];
  delete g[key];
  return s;
}

/** Runs EARLY_JS here (tests; boot.cjs runs the same text). */
export function startEarlyHashing(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const req = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), the one boot.cjs carries
  const start = (new Function(`return (${EARLY_JS})`) as () => (r: NodeJS.Require, a: readonly string[], e: NodeJS.ProcessEnv) => (() => void) | undefined)();
  start(req, argv, env)?.();
}
