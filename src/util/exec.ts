import { spawn } from 'node:child_process';
import { signalChild } from './proc.js';

export type Exec = (
  cmd: string,
  args: readonly string[],
  /** timeoutMs: kill the program after that long (exit code 124, as timeout(1) gives). */
  o?: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * Runs a program (no shell), collecting its output; a missing program gives exit code 127 like a shell, and
 * one that outlives `timeoutMs` is killed and gives 124 like timeout(1) (a hung nvidia-smi must not hang us).
 */
export const execFile: Exec = (cmd, args, o = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, [...args], { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          signalChild(child, 'SIGKILL');
        }, o.timeoutMs)
      : undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}\n` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}${cmd}: killed after ${o.timeoutMs} ms\n` });
      else resolve({ code: code ?? 1, stdout, stderr });
    });
  });
