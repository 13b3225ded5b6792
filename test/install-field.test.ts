import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseOsRelease } from '../src/probe/collect.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** What a field tech's walkthrough of `install` on a box found; each test is one of those findings. */

/** This machine as install sees it: the target a bundle for it names. */
async function thisBox(): Promise<{ os: string; arch: string }> {
  const r = parseOsRelease(await readFile('/etc/os-release', 'utf8'));
  return { os: `${r.ID}-${r.VERSION_ID}`, arch: execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim() };
}

/** A bundle with one file that installs to <dir>/box/hello, for this box unless `target` says otherwise. */
async function fileBundle(dir: string, o: { name?: string; version?: string; target?: string; extra?: string } = {}): Promise<string> {
  const src = join(dir, `src-${o.name ?? 'field'}-${o.version ?? '1.0.0'}`);
  await mkdir(src, { recursive: true });
  const data = Buffer.from(`hello from ${o.version ?? '1.0.0'}\n`);
  await writeFile(join(src, 'hello.txt'), data);
  const box = await thisBox();
  const m = join(src, 'm.yaml');
  await writeFile(
    m,
    [
      `name: ${o.name ?? 'field'}`,
      `version: ${o.version ?? '1.0.0'}`,
      `target: ${o.target ?? `{ os: ${box.os}, arch: ${box.arch} }`}`,
      'files:',
      '  - name: hello',
      `    path: ${join(src, 'hello.txt')}`,
      `    sha256: ${sha256(data)}`,
      `    install: { dest: ${join(dir, 'box', 'hello')} }`,
      o.extra ?? '',
    ].join('\n'),
  );
  return (await buildIn(src, m, { out: join(dir, `${o.name ?? 'field'}-${o.version ?? '1.0.0'}`) })).dir;
}

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

describe('install flags', () => {
  it('--only refuses an unknown kind (BAD_FLAG, exit 64) before verifying, naming the kinds', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const typo = await runCli(['install', b, '--only', 'apt,models', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(typo.code).toBe(64);
    expect(typo.stderr).toContain('error: --only: unknown kind "models"; the kinds are file, apt, pip, hf');
    expect(typo.stderr).toContain('models are "hf"');
    expect(typo.stderr).not.toMatch(/^verify/m);
    // A known kind the bundle lacks installs nothing, and says so.
    const none = await runCli(['install', b, '--only', 'hf', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('warning: --only hf: field 1.0.0 has no hf artifacts');
  });

  it('--base given for a full bundle is warned about, not silently ignored', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const r = await runCli(['install', b, '--base', '/media/usb/old', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: --base /media/usb/old is ignored: field 1.0.0 is a full bundle, not a delta');
  });
});
