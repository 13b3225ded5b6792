import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { closeLauncher, launch, shellWord } from '../src/util/launcher.js';
import { signalChild } from '../src/util/proc.js';
import { REPO } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

// Issue #14: the licence reads' decompressors are started by one small shell (util/launcher.ts), not by node,
// whose every fork cost ~12 ms of its main thread at a build's ~150 MB. What the shell starts must behave as a
// child of ours would: the same bytes, stopped when no longer read, and gone when we are.

const CHILD = fileURLToPath(new URL('./helpers/launch-child.ts', import.meta.url));

const drain = async (r: NodeJS.ReadableStream): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

/** Processes whose command line holds `marker` (not this one, nor pgrep). */
const running = (marker: string): string[] => {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when none match
  }
};

afterAll(closeLauncher);

describe('launcher', () => {
  it('a job reads the file from the offset given: the same bytes as the program run by hand, exit 0', async () => {
    const dir = await tempDir('vb-launch');
    const data = randomBytes(3 << 20);
    const file = join(dir, "it's a file $(echo no) `x`.bin");
    await writeFile(file, data);
    const job = await launch(['/bin/cat'], { path: file, offset: 12345 });
    expect(job).toBeDefined();
    const out = await drain(job!.stdout);
    expect(Buffer.compare(out, data.subarray(12345))).toBe(0);
    expect(await job!.exited).toBe(0);
    await job!.stop();
  });

  it('many jobs at once each get their own bytes', async () => {
    const dir = await tempDir('vb-launch');
    const files = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const p = join(dir, `f${i}`);
        const b = randomBytes(1000 + i * 7919);
        await writeFile(p, b);
        return { p, b };
      }),
    );
    const outs = await Promise.all(
      files.map(async ({ p }) => {
        const job = await launch(['/bin/cat'], { path: p, offset: 3 });
        const out = await drain(job!.stdout);
        expect(await job!.exited).toBe(0);
        return out;
      }),
    );
    outs.forEach((o, i) => expect(Buffer.compare(o, files[i]!.b.subarray(3))).toBe(0));
  });

  it('stop ends a job still writing (SIGPIPE), at once', async () => {
    const dir = await tempDir('vb-launch');
    const file = join(dir, 'sparse');
    await writeFile(file, '');
    await truncate(file, 8 * 2 ** 30); // 8 GiB of zeros: cat would take seconds to pass them all
    const job = (await launch(['/bin/cat'], { path: file, offset: 0 }))!;
    const first = await new Promise<Buffer>((r) => job.stdout.once('data', r));
    expect(first.length).toBeGreaterThan(0);
    const t = performance.now();
    await job.stop();
    expect(await job.exited).toBe(128 + 13);
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it('a job stopped before it has opened its output still goes', async () => {
    const dir = await tempDir('vb-launch');
    const file = join(dir, 'sparse');
    await writeFile(file, '');
    await truncate(file, 8 * 2 ** 30);
    const job = (await launch(['/bin/cat'], { path: file, offset: 0 }))!;
    await job.stop();
    expect(await job.exited).not.toBe(0);
  });

  it('the shell and its jobs go when the process that started them is killed (SIGKILL)', async () => {
    const dir = await tempDir('vb-launch');
    const marker = `vb-launch-marker-${process.pid}-${Date.now()}`;
    const file = join(dir, marker);
    await writeFile(file, '');
    await truncate(file, 1 << 30);
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const said = await new Promise<string>((r) => child.stdout.once('data', (b: Buffer) => r(b.toString())));
    expect(said).toBe('ready\n');
    expect(running(marker).length).toBeGreaterThan(0); // the job's cat (and tail) name the file
    signalChild(child, 'SIGKILL');
    for (let i = 0; i < 100 && running(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(running(marker)).toEqual([]);
  });

  it('closeLauncher stops a job nobody reads any more, ends the shell at once and removes its FIFO folder', async () => {
    const dir = await tempDir('vb-launch');
    const small = join(dir, 'f');
    await writeFile(small, 'hello');
    const done = (await launch(['/bin/cat'], { path: small, offset: 0 }))!;
    expect((await drain(done.stdout)).toString()).toBe('hello');
    expect(await done.exited).toBe(0);
    const big = join(dir, 'sparse');
    await writeFile(big, '');
    await truncate(big, 8 * 2 ** 30);
    const abandoned = (await launch(['/bin/cat'], { path: big, offset: 0 }))!; // blocked on a full pipe
    const t = performance.now();
    await closeLauncher();
    expect(performance.now() - t).toBeLessThan(5000);
    expect(await abandoned.exited).not.toBe(0);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`vault-jobs-vbtmp-${process.pid}-`))).toEqual([]);
  });

  it('shellWord quotes any string for sh', () => {
    for (const s of ["a'b", 'a b', '$(x)', '`x`', '"q"', '\\', "''", 'é\t\n']) {
      expect(execFileSync('/bin/sh', ['-c', `printf %s ${shellWord(s)}`], { encoding: 'utf8' })).toBe(s);
    }
  });
});
