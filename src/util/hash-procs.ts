/**
 * Whole files hashed by the box's own `sha256sum` processes, one file a process, as `xargs -P16 -n1 sha256sum`
 * does: on the 16-core box sixteen processes finish a 16 GiB bundle sooner than sixteen threads of one node
 * process, whose threads run unevenly there (bench/results/2026-12-07-h100-hash-threads-s14,
 * 2026-12-07-*-hash-procs-s15). Only where that sha256sum runs OpenSSL's SHA-256 (it links libcrypto, as Ubuntu
 * 24.04's coreutils does): Debian 12's own code is ~3.5x slower a core than node's (hash-per-core-s14).
 *
 * The process reads the file through a descriptor opened here (its stdin), never by name: no name is parsed, a
 * FIFO or a link swapped in is seen (fstat) before anything runs, and the digest counts only when the file's
 * size and times are unchanged once the process has ended. Anything else (no such program, a non-zero exit, an
 * odd output, a changed file) hands the job back: the caller hashes it itself, and so gives its exact error.
 *
 * Plain JS in strings, like the hashing loop (util/hash-worker.ts): boot.cjs starts these processes before the
 * CLI loads (util/early-hash.ts), and the pool (bundle/proc-share.ts) runs the same text.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/** Smaller files are hashed in-process: a process start (~1-2 ms) costs about what hashing 2 MiB does. */
export const PROC_MIN_BYTES = 4 << 20;

/** Processes at most (the thread cap is about memory; a sha256sum process is ~2 MB). */
export const MAX_PROCS = 64;

/** The program, found once: `(PROC_CHOOSE_JS)(env, fs)` → `{ name, bin, args }` or undefined (hash in-process). */
export const PROC_CHOOSE_JS = `function chooseHashProgram(env, fs) {
  const want = env.VAULT_HASHER;
  if (want === 'threads') return undefined;
  const tools = {
    sha256sum: { paths: ['/usr/bin/sha256sum', '/bin/sha256sum'], args: [] },
    openssl: { paths: ['/usr/bin/openssl', '/bin/openssl'], args: ['dgst', '-sha256', '-r'] },
  };
  const find = (name) => {
    const t = tools[name];
    for (const bin of t.paths) {
      try { if (fs.statSync(bin).isFile()) { fs.accessSync(bin, fs.constants.X_OK); return { name, bin, args: t.args }; } } catch {}
    }
    return undefined;
  };
  if (want === 'sha256sum' || want === 'openssl') return find(want);
  const s = find('sha256sum');
  if (!s) return undefined;
  try {
    // Its dynamic section names libcrypto: coreutils built --with-openssl (SHA-NI where the CPU has it).
    const st = fs.statSync(s.bin);
    if (st.size > 4 * 1024 * 1024) return undefined;
    return fs.readFileSync(s.bin).includes('libcrypto.so') ? s : undefined;
  } catch { return undefined; }
}`;

/**
 * The queue: `(PROC_QUEUE_JS)(spawn, fs, program, slots)`. add({ file, size, stamp?, stampOf?, cb }) runs the job
 * when a slot is free and calls cb(hex) or cb(undefined) (handed back); positions() gives each running job's bytes
 * read so far (/proc/PID/fdinfo/0, for a progress line); close() kills what runs and hands back what waits.
 */
export const PROC_QUEUE_JS = `function procQueue(spawn, fs, program, slots) {
  const waiting = [];
  const running = new Map();
  let closed = false;
  let held = true;
  const flags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;
  const q = {
    name: program.name,
    slots,
    started: 0,
    add(job) { if (closed) return job.cb(undefined); waiting.push(job); pump(); },
    get busy() { return running.size + waiting.length; },
    // Unheld (boot.cjs's early start), the processes keep no run alive: a usage error ends at once.
    ref() { held = true; for (const c of running.keys()) { c.ref(); c.stdout.ref(); } },
    unref() { held = false; for (const c of running.keys()) { c.unref(); c.stdout.unref(); } },
    positions() {
      const out = [];
      for (const [c, { job }] of running) {
        try {
          const m = /^pos:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/' + c.pid + '/fdinfo/0', 'latin1'));
          if (m) out.push([job, Number(m[1])]);
        } catch {}
      }
      return out;
    },
    close() {
      closed = true;
      for (const job of waiting.splice(0)) job.cb(undefined);
      // Handed back now, not at 'close': a killed program's own children could hold its output open.
      // process.kill with a pid only while it runs: ChildProcess.kill of a failed spawn can signal our own group (util/proc.ts).
      for (const [c, r] of running) {
        if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) { try { process.kill(c.pid, 'SIGKILL'); } catch {} }
        r.end(false);
        c.stdout.destroy();
      }
    },
  };
  const pump = () => { while (!closed && running.size < slots && waiting.length > 0) start(waiting.shift()); };
  const same = (a, b) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev;
  function start(job) {
    let fd, st, c;
    try {
      fd = fs.openSync(job.file, flags);
      st = fs.fstatSync(fd);
      if (!st.isFile() || st.size !== job.size || (job.stamp && job.stampOf(st) !== job.stamp)) throw new Error('changed');
      c = spawn(program.bin, program.args, { stdio: [fd, 'pipe', 'ignore'] });
    } catch {
      if (fd !== undefined) fs.closeSync(fd);
      return job.cb(undefined);
    }
    q.started++;
    if (!held) { c.unref(); c.stdout.unref(); }
    let out = '';
    let ended = false;
    c.stdout.setEncoding('latin1');
    c.stdout.on('data', (d) => { if (out.length < 256) out += d; });
    const end = (ok) => {
      if (ended) return;
      ended = true;
      running.delete(c);
      let unchanged = false;
      try { unchanged = same(fs.fstatSync(fd), st); } catch {}
      fs.closeSync(fd);
      const m = /^([0-9a-f]{64}) /.exec(out);
      try { job.cb(ok && unchanged && m && !closed ? m[1] : undefined); } finally { pump(); }
    };
    running.set(c, { job, end });
    c.on('error', () => end(false));
    c.on('close', (code, signal) => end(code === 0 && !signal));
  }
  return q;
}`;

export interface HashProgram {
  name: 'sha256sum' | 'openssl';
  bin: string;
  args: string[];
}

export interface ProcJob {
  file: string;
  size: number;
  /** The file's fileStamp (util/early-hash.ts) when listed: a file that differs now is handed back. */
  stamp?: string;
  stampOf?: (st: fs.Stats) => string;
  /** The digest (hex), or undefined: hash it yourself. */
  cb: (hex: string | undefined) => void;
}

export interface ProcQueue {
  readonly name: HashProgram['name'];
  readonly slots: number;
  /** Processes started so far. */
  readonly started: number;
  /** Jobs running or waiting. */
  readonly busy: number;
  add(job: ProcJob): void;
  ref(): void;
  unref(): void;
  positions(): [ProcJob, number][];
  close(): void;
}

// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), the one boot.cjs carries
const choose = (new Function(`return (${PROC_CHOOSE_JS})`) as () => (env: NodeJS.ProcessEnv, f: ChooseFs) => HashProgram | undefined)();
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- our own constant source (above), the one boot.cjs carries
const queue = (new Function(`return (${PROC_QUEUE_JS})`) as () => (s: typeof spawn, f: typeof fs, p: HashProgram, n: number) => ProcQueue)();

/** The file calls the choice makes (a test gives its own). */
export type ChooseFs = Pick<typeof fs, 'statSync' | 'accessSync' | 'readFileSync' | 'constants'>;

/** The program verify's pool hands big whole files to, or undefined: it hashes them on its threads (VAULT_HASHER). */
export function hashProgram(env: NodeJS.ProcessEnv = process.env, files: ChooseFs = fs): HashProgram | undefined {
  return choose(env, files);
}

/** A queue of at most `slots` processes of `program`. */
export function procQueue(program: HashProgram, slots: number): ProcQueue {
  return queue(spawn, fs, program, Math.max(1, Math.min(slots, MAX_PROCS)));
}
