import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, SOURCE_BIN, runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/**
 * verify ends the process as soon as its output is flushed (cli/out.ts endAtOnce, cli/run.ts), without Node's
 * environment teardown: nothing it printed may be lost, even through a pipe whose reader is slow to read.
 */
let dir: string;
let bundle: string;
const EXTRA = 2500;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-verify-exit-'));
  const { manifest } = await fileManifest(dir, { name: 'exit' });
  bundle = join(dir, 'b');
  const b = await runCli(['-q', '--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', bundle]);
  expect(b.code).toBe(0);
  // Files left in the folder: one problem (and one line) each, far more output than a pipe holds (64 KiB).
  await mkdir(join(bundle, 'left'));
  for (let i = 0; i < EXTRA; i++) await writeFile(join(bundle, 'left', `${'x'.repeat(80)}-${i}`), '');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs the CLI with both streams on pipes that are read only after `delayMs`. */
function slowlyRead(bin: string, args: string[], delayMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    child.stderr.pause();
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    setTimeout(() => {
      child.stdout.resume();
      child.stderr.resume();
    }, delayMs);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('verify ends at once, its output whole', () => {
  it('--json through a slow pipe: the whole result record arrives, then the exit code', async () => {
    const r = await slowlyRead(BIN, ['--json', 'verify', bundle], 400);
    expect(r.code).toBe(4);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { type: string; ok: boolean; problems: { code: string }[] };
    expect(r.stdout.length).toBeGreaterThan(128 * 1024);
    expect(result).toMatchObject({ type: 'result', ok: false });
    expect(result.problems.filter((p) => p.code === 'EXTRA_FILE')).toHaveLength(EXTRA);
  });

  it('text, packed and from source: every line on stderr and the FAILED line on stdout', async () => {
    for (const bin of [BIN, SOURCE_BIN]) {
      const r = await slowlyRead(bin, ['verify', bundle], 400);
      expect({ bin, code: r.code }).toEqual({ bin, code: 4 });
      expect(r.stdout).toMatch(/^FAILED exit 1\.0\.0: 2500 file\(s\) not in the bundle left in .*; the bundle's own files are intact\n$/);
      const listed = r.stderr.split('\n').filter((l) => /^ {2}left\/x+-\d+$/.test(l));
      expect(listed).toHaveLength(EXTRA);
    }
  });

  it('an intact bundle: OK and exit 0', async () => {
    const d = await tempDir();
    const { manifest } = await fileManifest(d, { name: 'fine' });
    const b = join(d, 'b');
    expect((await runCli(['-q', '--cache-dir', join(d, 'cache'), 'build', manifest, '--out', b])).code).toBe(0);
    const r = await slowlyRead(BIN, ['verify', b], 200);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK fine 1\.0\.0: /) });
  });
});
