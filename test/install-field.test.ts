import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** What a field tech's walkthrough of `install` on a box found; each test is one of those findings. */

describe('install and verify on a path that is not a bundle', () => {
  it('fail NOT_A_BUNDLE (exit 64) at once, without walking the tree (install . from /)', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    // From /, walking the tree read for seconds and then failed on /proc as an internal error (exit 70).
    const root = await runCli(['install', '.', '--dry-run', '--state-dir', state], { cwd: '/' });
    expect(root.code).toBe(64);
    expect(root.stderr).toMatch(/^error: \/: not a vault-bundle bundle \(this folder has no bundle\.json and no SHA256SUMS or parts\.json\)\nhint: .*cd into the bundle folder/m);
    expect(root.stderr).not.toContain('internal error');
    // verify on a folder of other files said BAD_SUMS (exit 4), which reads as a damaged bundle.
    await mkdir(join(dir, 'stuff'));
    await writeFile(join(dir, 'stuff', 'notes.txt'), 'not a bundle\n');
    const v = await runCli(['verify', join(dir, 'stuff')]);
    expect(v.code).toBe(64);
    expect(v.stderr).toContain('not a vault-bundle bundle');
    const j = await runCli(['--json', 'install', join(dir, 'stuff'), '--state-dir', state]);
    expect(j.code).toBe(64);
    expect(JSON.parse(j.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'error', code: 'NOT_A_BUNDLE' });
  });
});
