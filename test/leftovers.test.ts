import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { madeByDeadProcess, processStartTime, signalChild } from '../src/util/proc.js';
import { BIN, REPO, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** A manifest of one `mib` MiB file (one byte value: hashing is quick, the tar takes a moment). */
async function bigManifest(dir: string, mib: number): Promise<string> {
  const data = Buffer.alloc(mib << 20, 3);
  await writeFile(join(dir, 'big.bin'), data);
  const sha = createHash('sha256').update(data).digest('hex');
  const manifest = join(dir, 'm.yaml');
  await writeFile(manifest, `name: x\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - name: big\n    path: big.bin\n    sha256: ${sha}\n`);
  return manifest;
}

/** Starts the CLI; resolves once its stderr matches `pattern` (with the child still running). */
function startUntil(
  args: string[],
  pattern: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    let seen = false;
    const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((res) =>
      child.on('close', (code, signal) => res({ code, signal, stderr })),
    );
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!seen && pattern.test(stderr)) {
        seen = true;
        resolve({ child, done });
      }
    });
    child.on('error', reject);
    void done.then((r) => !seen && reject(new Error(`exited (${r.code}) before ${pattern}: ${r.stderr}`)));
  });
}

describe("leftovers after a kill: named by pid and start time, removed by the next run, never a live run's", () => {
  it('names the process: /proc start time, a dead pid or a reused one is dead, this process is alive', () => {
    const start = processStartTime(process.pid)!;
    expect(start).toMatch(/^\d+$/);
    expect(madeByDeadProcess(`.x.vbtmp-${process.pid}-${start}-abcd`)).toBe(false);
    expect(madeByDeadProcess(`.x.vbtmp-${process.pid}-${Number(start) + 1}-abcd`)).toBe(true); // the pid reused
    expect(madeByDeadProcess('.x.vbtmp-4194304-1-abcd')).toBe(true); // past pid_max: no such process
    expect(madeByDeadProcess('.x.tmp-0123456789ab')).toBe(false); // not stamped: never judged dead here
  });

  it('kill -9 of a build during its tar leaves stamped temps beside --out and --tar; the next build removes them', async () => {
    const dir = await tempDir();
    const manifest = await bigManifest(dir, 96);
    const bundles = join(dir, 'bundles');
    const args = ['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', join(bundles, 'x'), '--tar', join(bundles, 'x.tar'), '--runtime', 'none'];
    const { child, done } = await startUntil(args, /^tar$/m);
    await new Promise((r) => setTimeout(r, 150));
    signalChild(child, 'SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const left = await readdir(bundles);
    expect(left.length).toBeGreaterThan(0);
    for (const n of left) expect(n).toContain(`vbtmp-${child.pid}-`);
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/removed what an interrupted build left/);
    expect((await readdir(bundles)).sort()).toEqual(['x', 'x.tar']);
  });

  it("a second build to the same --out while the first is writing: both succeed, neither removes the other's work", async () => {
    const dir = await tempDir();
    const manifest = await bigManifest(dir, 96);
    const bundles = join(dir, 'bundles');
    const args = ['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', join(bundles, 'x'), '--tar', join(bundles, 'x.tar'), '--runtime', 'none'];
    // Cache and lock first, so both runs reach their tar quickly.
    expect((await runCli(args)).code).toBe(0);
    // The first is frozen (SIGSTOP: alive, its stage and tar half-written) while the second runs from start
    // to end, sweeping beside --out; then it goes on. A sweep by file age would have removed its stage.
    const first = await startUntil(args, /^tar$/m);
    signalChild(first.child, 'SIGSTOP');
    const second = await runCli(args).finally(() => signalChild(first.child, 'SIGCONT'));
    const a = await first.done;
    expect(a.code, a.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect((await readdir(bundles)).sort()).toEqual(['x', 'x.tar']);
    expect((await verifyBundle(join(bundles, 'x'))).ok).toBe(true);
    expect((await verifyBundle(join(bundles, 'x.tar'))).ok).toBe(true);
  });

  it('kill -9 of a rebuild whose stage holds links to the old bundle: the old bundle verifies, the next build is whole, the one after takes the blobs again', async () => {
    const dir = await tempDir();
    const manifest = await bigManifest(dir, 96);
    const bundles = join(dir, 'bundles');
    const out = join(bundles, 'x');
    const args = ['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', out, '--tar', join(bundles, 'x.tar'), '--runtime', 'none'];
    expect((await runCli(args)).code).toBe(0);
    // The tar is made after the blobs were placed (linked from the old bundle: store/placed.ts), before the swap.
    const { child, done } = await startUntil(args, /^tar$/m);
    await new Promise((r) => setTimeout(r, 150));
    signalChild(child, 'SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect((await verifyBundle(out)).ok).toBe(true);
    const next = await runCli(['--json', ...args]);
    expect(next.code, next.stderr).toBe(0);
    expect((await verifyBundle(out)).ok).toBe(true);
    expect((await verifyBundle(join(bundles, 'x.tar'))).ok).toBe(true);
    expect((await readdir(bundles)).sort()).toEqual(['x', 'x.tar']);
    const after = await runCli(['--json', ...args]);
    const copies = (JSON.parse(after.stdout.trim().split('\n').at(-1)!) as { copies: { reused: number } }).copies;
    expect(copies.reused).toBe(1);
    expect((await verifyBundle(out)).ok).toBe(true);
  });

  it("any verb removes what killed runs left in $TMPDIR, and keeps a live process's scratch folder", async () => {
    const dir = await tempDir();
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    // Two real processes make scratch folders the way the tool does; one is killed with -9, one lives on.
    const script = `import { makeTempDir } from ${JSON.stringify(join(REPO, 'src/util/temp.ts'))};\nconst d = await makeTempDir('vault-pack');\nprocess.stdout.write(d + '\\n');\nsetInterval(() => {}, 1000);\n`;
    const maker = () =>
      new Promise<{ child: ChildProcess; made: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          cwd: REPO,
          env: { ...process.env, TMPDIR: tmp },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child.stdout.once('data', (d: Buffer) => resolve({ child, made: d.toString().trim() }));
        child.on('error', reject);
      });
    const killed = await maker();
    const live = await maker();
    try {
      signalChild(killed.child, 'SIGKILL');
      await new Promise((r) => killed.child.on('close', r));
      const ours = async () => (await readdir(tmp)).filter((n) => n.startsWith('vault-')); // tsx keeps its cache there too
      expect(await ours()).toHaveLength(2);
      const r = await runCli(['verify', join(dir, 'nothing-here')], { env: { TMPDIR: tmp } });
      expect(r.code).toBe(64);
      expect(await ours()).toEqual([live.made.split('/').pop()]);
    } finally {
      signalChild(live.child, 'SIGKILL');
    }
  });

  it('a process that exits with temps still there (process.exit mid-way) leaves none of them: temp.ts removes them at exit', async () => {
    const dir = await tempDir();
    const script = [
      `import { makeTempDir, tempSibling } from ${JSON.stringify(join(REPO, 'src/util/temp.ts'))};`,
      "import { mkdirSync, writeFileSync } from 'node:fs';",
      `const d = await makeTempDir('vault-exit', ${JSON.stringify(dir)});`,
      "writeFileSync(d + '/x', 'x');",
      `mkdirSync(tempSibling(${JSON.stringify(join(dir, 'out'))}));`,
      'process.stdout.write(String(1));',
      'process.exit(3);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect([code, out]).toEqual([3, '1']); // both temps were made
    expect(await readdir(dir)).toEqual([]);
  });
});
