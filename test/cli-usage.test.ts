import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERIFY_SH } from '../src/runtime/carry.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** Issue #14 class 6: usage errors and unreadable inputs that sent the user the wrong way. */
describe('usage errors', () => {
  it('no arguments: help on stderr and exit 64; --help stays 0', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(64);
    expect(none.stderr).toContain('Usage: vault-bundle');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: vault-bundle');
  });

  it('--json: an unknown flag or a missing argument ends in one JSON error record on stdout, exit 64', async () => {
    for (const args of [
      ['--json', 'verify', '--no-such-flag', '.'],
      ['--json', 'verify'],
      ['--json', 'no-such-verb'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(64);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const rec = JSON.parse(lines[0]!) as { type: string; code: string; message: string };
      expect(rec).toMatchObject({ type: 'error', code: 'USAGE' });
      expect(rec.message.length).toBeGreaterThan(0);
    }
  });

  it('a folder given as the manifest: MANIFEST_READ in words (no EISDIR), exit 2, no checkout-only path in the hint', async () => {
    const dir = await tempDir();
    for (const verb of ['lock', 'build']) {
      const r = await runCli([verb, dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('it is a folder, not a manifest file');
      expect(r.stderr).not.toContain('EISDIR');
      expect(r.stderr).not.toMatch(/hint: .*manifests\//);
      const j = await runCli(['--json', verb, dir]);
      expect(JSON.parse(j.stdout.trim().split('\n').pop()!)).toMatchObject({ type: 'error', code: 'MANIFEST_READ' });
    }
    const missing = await runCli(['lock', join(dir, 'nope.yaml')]);
    expect(missing.stderr).not.toMatch(/hint: .*manifests\//);
  });
});

describe('sh ./verify in a folder without SHA256SUMS', () => {
  it('names the missing SHA256SUMS (no raw grep error, no "runtime is not listed")', async () => {
    const dir = join(await tempDir(), 'half-copied');
    await mkdir(dir);
    await writeFile(join(dir, 'verify'), VERIFY_SH);
    const r = spawnSync('sh', [join(dir, 'verify')], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('SHA256SUMS is missing from');
    expect(r.stderr).not.toContain('grep:');
    expect(r.stderr).not.toContain('does not list the carried runtime');
  });
});
