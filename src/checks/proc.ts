import { spawn } from 'node:child_process';
import { signalChild } from '../util/proc.js';

export interface ProcOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kills the program and everything it started (its process group) when aborted. */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Keep at most this many characters of each stream (the end of it). Default 8 MiB. */
  maxOutput?: number;
}

export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Killed because of `timeoutMs`. */
  timedOut?: boolean;
  /** Killed because `signal` was aborted. */
  aborted?: boolean;
}

/** How checks run programs. util/exec's execFile fits this type too (it just ignores signal and timeout). */
export type CheckExec = (cmd: string, args: readonly string[], o?: ProcOptions) => Promise<ProcResult>;

const KILL_GRACE_MS = 5_000;

/**
 * Runs a program without a shell in its own process group, so that a timeout or an abort kills what it
 * started too (torchrun's workers, vLLM's engine). A program that cannot start gives exit code 127, as a shell.
 */
export const runProcess: CheckExec = (cmd, args, o = {}) =>
  new Promise((resolve) => {
    const max = o.maxOutput ?? 8 << 20;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const child = spawn(cmd, [...args], { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = (sig: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        signalChild(child, sig);
      }
    };
    const stop = () => {
      kill('SIGTERM');
      graceTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
      graceTimer.unref();
    };
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, o.timeoutMs)
      : undefined;
    const keep = (s: string) => (s.length > max ? s.slice(s.length - max) : s);
    child.stdout.on('data', (d: Buffer) => (stdout = keep(stdout + d.toString())));
    child.stderr.on('data', (d: Buffer) => (stderr = keep(stderr + d.toString())));
    let settled = false;
    const done = (code: number, extra = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      // Anything the program left in its group goes with it.
      if (timedOut || aborted) kill('SIGKILL');
      else if (graceTimer) clearTimeout(graceTimer);
      resolve({ code, stdout, stderr: stderr + extra, ...(timedOut ? { timedOut } : {}), ...(aborted ? { aborted } : {}) });
    };
    child.on('error', (err) => done(127, `${err.message}\n`));
    child.on('close', (code, sig) => done(code ?? (sig ? 128 + (signalNumber[sig] ?? 15) : 1)));
  });

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 };

/** The last `n` non-empty lines of a text, for reasons and logs. */
export function tail(text: string, n = 12): string {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}

/** The first line that looks like the cause of a Python or tool failure (`…Error: …`), else the last line. */
export function causeLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const err = lines.find((l) => /^(\(\w+ pid=\d+\)\s*)?[\w.]*(Error|Exception)\b.*?:/.test(l)) ?? lines.findLast((l) => /error/i.test(l));
  return (err ?? lines.at(-1) ?? '').slice(0, 400);
}
