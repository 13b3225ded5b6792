/**
 * Runs a command and measures its wall time and peak RSS. Peak RSS comes from GNU time (`/usr/bin/time`, its
 * %M: the largest RSS of the command and of any child it waited for); where that is missing, from polling
 * VmHWM in /proc/<pid>/status of the process and its descendants.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measured {
  wallMs: number;
  /** Peak resident set size in KiB; undefined when it could not be measured. */
  maxRssKiB?: number;
  /** User + system CPU time in ms (GNU time only): robust to other load on the box, unlike wall time. */
  cpuMs?: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

const GNU_TIME = '/usr/bin/time';

export function rssMethod(): 'gnu-time' | 'proc-vmhwm' {
  if (process.env.VAULT_BENCH_RSS === 'proc') return 'proc-vmhwm';
  try {
    accessSync(GNU_TIME, constants.X_OK);
    return 'gnu-time';
  } catch {
    return 'proc-vmhwm';
  }
}

export async function measure(cmd: string, args: string[], o: RunOptions = {}): Promise<Measured> {
  return rssMethod() === 'gnu-time' ? withGnuTime(cmd, args, o) : withProcPolling(cmd, args, o);
}

async function withGnuTime(cmd: string, args: string[], o: RunOptions): Promise<Measured> {
  const out = join(tmpdir(), `vault-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const r = await exec(GNU_TIME, ['-f', '%M %U %S', '-o', out, cmd, ...args], o);
    let maxRssKiB: number | undefined;
    let cpuMs: number | undefined;
    try {
      // A killed command adds a "Command terminated by signal" line first; ours is always the last line.
      const last = readFileSync(out, 'utf8').trim().split('\n').at(-1) ?? '';
      const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(last);
      if (m) {
        maxRssKiB = Number(m[1]);
        cpuMs = Math.round((Number(m[2]) + Number(m[3])) * 1000);
      }
    } catch {
      maxRssKiB = undefined;
    }
    return { ...r, ...(maxRssKiB !== undefined ? { maxRssKiB } : {}), ...(cpuMs !== undefined ? { cpuMs } : {}) };
  } finally {
    rmSync(out, { force: true });
  }
}

async function withProcPolling(cmd: string, args: string[], o: RunOptions): Promise<Measured> {
  let peak = 0;
  const r = await exec(cmd, args, o, (pid) => {
    const poll = () => {
      for (const p of [pid, ...descendants(pid)]) peak = Math.max(peak, vmHwmKiB(p));
    };
    poll();
    const t = setInterval(poll, 5);
    return () => {
      poll();
      clearInterval(t);
    };
  });
  return { ...r, ...(peak > 0 ? { maxRssKiB: peak } : {}) };
}

function vmHwmKiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let text: string;
    try {
      text = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      return;
    }
    for (const c of text.split(/\s+/).filter(Boolean).map(Number)) {
      out.push(c);
      visit(c);
    }
  };
  visit(pid);
  return out;
}

/** Spawns, collects output, times from spawn to exit. `watch` runs once the pid is known; its result stops it. */
function exec(cmd: string, args: string[], o: RunOptions, watch?: (pid: number) => () => void): Promise<Omit<Measured, 'maxRssKiB' | 'cpuMs'>> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stop = child.pid !== undefined && watch ? watch(child.pid) : undefined;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => stdout.push(b));
    child.stderr?.on('data', (b: Buffer) => stderr.push(b));
    if (o.input !== undefined) child.stdin?.end(o.input);
    child.on('error', (err) => {
      stop?.();
      reject(err);
    });
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      stop?.();
      resolve({
        wallMs,
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

/**
 * Drops these files from the page cache so the next read comes from the disk: the whole cache where we may
 * (root: /proc/sys/vm/drop_caches), else file by file (GNU dd's `iflag=nocache count=0`, posix_fadvise DONTNEED).
 */
export function dropPageCache(files: string[]): 'drop_caches' | 'fadvise' {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return 'drop_caches';
  } catch {
    for (const f of files) execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    return 'fadvise';
  }
}
