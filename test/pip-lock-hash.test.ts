import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLock } from '../src/lock/lock.js';
import { runCli } from './helpers/cli.js';
import { startPypi } from './helpers/pypi-server.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureWheels } from './helpers/wheels.js';

/**
 * A wrong `#sha256=` in a pip index (the wheel served is not the one the index hashes): lock catches it where it
 * fetches the wheel (an index without PEP 658 metadata); where PEP 658 metadata sufficed and lock never saw the
 * wheel, the lock says so ("bytes: unchecked") and so does lock's output, and build refuses the wheel.
 */
let wheels: string;
const BETA = 'vb_beta-2.1.0-py3-none-any.whl';

beforeAll(() => {
  wheels = join(fixtureWheels(), 'wheels');
}, 120_000);

async function manifest(dir: string, url: string): Promise<string> {
  const m = join(dir, 'm.yaml');
  writeFileSync(
    m,
    `name: pip-hash\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "3.11"}\npip:\n  index-url: ${url}\n  packages: ["vb-beta==2.1.0"]\n`,
  );
  return m;
}

describe('a pip index whose sha256 does not match the wheel it serves', () => {
  let plain: Awaited<ReturnType<typeof startPypi>>;
  let pep658: Awaited<ReturnType<typeof startPypi>>;
  beforeAll(async () => {
    plain = await startPypi({ dirs: [wheels], tamper: [BETA], metadata: false, htmlOnly: true });
    pep658 = await startPypi({ dirs: [wheels], tamper: [BETA], htmlOnly: true });
  });
  afterAll(async () => {
    await plain.close();
    await pep658.close();
  });

  it('no PEP 658 metadata: lock fetches the wheel to read its METADATA and refuses it there (DIGEST_MISMATCH, exit 4)', async () => {
    const dir = await tempDir();
    const r = await runCli(['--cache-dir', join(dir, 'cache'), 'lock', await manifest(dir, plain.url)]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: pip:vb-beta@2\.1\.0: expected sha256:[0-9a-f]{64}, found sha256:[0-9a-f]{64}$/m);
    expect(r.stderr).toContain('hint: the file does not match the sha256 its package index gives');
    const j = await runCli(['--json', '--cache-dir', join(dir, 'cache'), 'lock', await manifest(dir, plain.url)]);
    expect(j.code).toBe(4);
    expect(j.stdout + j.stderr).toContain('"DIGEST_MISMATCH"');
  });

  it('PEP 658 metadata: lock records "bytes: unchecked" and says so; build then refuses the wheel', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, pep658.url);
    const r = await runCli(['--cache-dir', join(dir, 'cache'), 'lock', m]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("1 pip wheel is pinned by the index's sha256 alone (resolved from PEP 658 metadata, not fetched");
    const lock = await readLock(join(dir, 'm.lock.json'));
    expect(lock.artifacts.find((a) => a.name === 'vb-beta')!.meta).toMatchObject({ bytes: 'unchecked' });
    const j = await runCli(['--json', '--cache-dir', join(dir, 'cache'), 'lock', m]);
    expect(JSON.parse(j.stdout.trim().split('\n').at(-1)!)).toMatchObject({ artifacts: 1, unchecked: 1 });
    const b = await runCli(['--cache-dir', join(dir, 'cache'), 'build', m, '--out', join(dir, 'out')]);
    expect(b.code).toBe(4);
    expect(b.stderr).toContain('hint: the file does not match the sha256 its package index gives');
  });
});
