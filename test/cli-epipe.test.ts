import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, REPO } from './helpers/cli.js';

/** Runs the packed CLI with its stdout a pipe whose reader is gone before the first byte (as `| head -1` ends). */
function closedPipe(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('a closed stdout pipe (vault-bundle … | head -1)', () => {
  it.each([
    ['schema --help', ['schema', '--help']],
    ['schema (a whole JSON Schema)', ['schema']],
    ['--help', ['--help']],
  ])(
    '%s exits quietly with its own code, no EPIPE trace',
    async (_what, args) => {
      const r = await closedPipe(args);
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
    },
    30_000,
  );
});
