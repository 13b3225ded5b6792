import { spawn } from 'node:child_process';
import { BIN, REPO } from './cli.js';

/** Single-quoted for sh. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs a command under a real pseudo-terminal (`script` from util-linux: stdin, stdout and stderr are its pty, so
 * the CLI sees a TTY) and returns everything the terminal received, stdout and stderr together, as written.
 */
export function runTty(argv: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; transcript: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', argv.map(q).join(' '), '/dev/null'], {
      cwd: o.cwd ?? REPO,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let transcript = '';
    child.stdout.on('data', (d: Buffer) => (transcript += d.toString()));
    child.stderr.on('data', (d: Buffer) => (transcript += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, transcript }));
  });
}

/** The packed CLI under a terminal. */
export function cliTty(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ReturnType<typeof runTty> {
  return runTty([process.execPath, BIN, ...args], o);
}

/** Every text a line showed, in order, each redraw (`\r`, erase line) a frame of its own. */
export function frames(transcript: string): string[] {
  return transcript
    .replace(/\r\n/g, '\n')
    .split(/[\r\n]/)
    .map((s) => s.replace(/^\x1b\[2K/, ''))
    .filter(Boolean);
}

/** What stays on the screen at the end: each line as its last redraw left it (an erased line is gone). */
export function screen(transcript: string): string[] {
  return transcript
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) =>
      line
        .split('\r')
        .at(-1)!
        .replace(/^\x1b\[2K/, ''),
    )
    .filter(Boolean);
}
