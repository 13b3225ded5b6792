import { describe, expect, it } from 'vitest';
import { execFile } from '../src/util/exec.js';

describe('execFile', () => {
  it('gives the exit code and output of a real program', async () => {
    const r = await execFile('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('a missing program is 127, like a shell', async () => {
    expect((await execFile('no-such-program-here', [])).code).toBe(127);
  });

  it('kills a program that outlives its timeout: 124, like timeout(1)', async () => {
    const r = await execFile('sleep', ['30'], { timeoutMs: 200 });
    expect(r.code).toBe(124);
    expect(r.stderr).toContain('sleep: killed after 200 ms');
  });
});
