import { spawn } from 'node:child_process';
import type { Exec } from '../sources/source.js';

/** Runs a program (no shell), collecting its output; a missing program gives exit code 127 like a shell. */
export const execFile: Exec = (cmd, args, o = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, [...args], { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: `${stderr}${err.message}\n` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
