import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listHistory } from '../src/history/record.js';
import { installBundle } from '../src/install/install.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** A file bundle at `version` that installs one file (its bytes differ per version) to `dir/box/hist`. */
async function bundle(dir: string, version: string): Promise<string> {
  const sub = join(dir, `src-${version}`);
  await mkdir(sub, { recursive: true });
  const { manifest } = await fileManifest(sub, { name: 'hist', version, sizes: [64 + Number(version.split('.')[1])] });
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace(/( {4}sha256: .+\n)/, `$1    install: { dest: ${join(dir, 'box', 'hist')} }\n`));
  return (await buildIn(sub, manifest, { out: join(dir, `hist-${version}`) })).dir;
}

const install = (b: string, stateDir: string, o: Partial<Parameters<typeof installBundle>[0]> = {}) =>
  installBundle({ bundle: b, dryRun: false, stateDir, ignoreTarget: true, exec: execFile, report: () => {}, signal: new AbortController().signal, ...o });

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('install history', () => {
  it('records what each install replaces before changing anything: the file (old bytes kept), the stamp; bounded by keepHistory', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    const [v1, v2, v3] = [await bundle(dir, '1.1.0'), await bundle(dir, '1.2.0'), await bundle(dir, '1.3.0')];
    await install(v1, state, { dryRun: true });
    expect(await listHistory(state)).toEqual([]);
    await install(v1, state);
    const v1bytes = await readFile(join(dir, 'box', 'hist'));
    const stamp1 = await readFile(join(state, 'image-version.json'), 'utf8');
    await install(v2, state);
    await install(v2, state); // a rerun keeps the record of the first try
    const recs = await listHistory(state);
    expect(recs.map((r) => r.bundle.version)).toEqual(['1.1.0', '1.2.0']);
    expect(recs[0]).toMatchObject({ files: [{ path: join(dir, 'box', 'hist'), before: null }], apt: [], hf: [] });
    expect(recs[0]!.stamp).toBeUndefined();
    const r2 = recs[1]!;
    expect(r2.stamp).toBe(stamp1);
    expect(r2.files).toEqual([{ path: join(dir, 'box', 'hist'), before: sha(v1bytes), after: sha(await readFile(join(dir, 'box', 'hist'))) }]);
    const kept = await readFile(join(state, 'history', r2.id, 'files', sha(v1bytes).slice(7)));
    expect(kept.equals(v1bytes)).toBe(true);
    await install(v3, state, { keepHistory: 2 });
    const after = await listHistory(state);
    expect(after.map((r) => r.bundle.version)).toEqual(['1.2.0', '1.3.0']);
    expect((await readdir(join(state, 'history'))).filter((n) => !n.endsWith('.json')).sort()).toEqual(after.map((r) => r.id));
    const cli = await runCli(['history', '--state-dir', state]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('hist 1.3.0 (over 1.2.0)');
    expect(cli.stdout).toContain('replaced (old bytes kept)');
  });
});

describe("apt's plan as history records it", () => {
  it('reads Inst (new, upgrade, downgrade) and Remv lines of apt-get -s with the version before and after', async () => {
    const { aptChanges } = await import('../src/sources/apt/plan.js');
    const sim = [
      'NOTE: This is only a simulation!',
      'Inst vbextra (1.0 localhost [amd64])',
      'Inst vbtest [1.0] (2.0 localhost [amd64]) []',
      'Inst libfoo:i386 [2:1.1-1] (2:1.0-1 Debian:12/stable [i386])',
      'Remv oldpkg [0.9]',
      'Conf vbextra (1.0 localhost [amd64])',
    ].join('\n');
    expect(aptChanges(sim, 'amd64')).toEqual([
      { package: 'vbextra', arch: 'amd64', before: null, after: '1.0' },
      { package: 'vbtest', arch: 'amd64', before: '1.0', after: '2.0' },
      { package: 'libfoo', arch: 'i386', before: '2:1.1-1', after: '2:1.0-1' },
      { package: 'oldpkg', arch: 'amd64', before: '0.9', after: null },
    ]);
  });
});

describe('rollback (files and the stamp)', () => {
  it('puts the file and image-version.json back byte for byte; again: nothing to do; kept bytes missing: refused, nothing changed', async () => {
    const { rollback } = await import('../src/history/rollback.js');
    const { rm } = await import('node:fs/promises');
    const dir = await tempDir();
    const state = join(dir, 'state');
    const [v1, v2] = [await bundle(dir, '1.1.0'), await bundle(dir, '1.2.0')];
    await install(v1, state);
    const file = join(dir, 'box', 'hist');
    const [f1, s1] = [await readFile(file), await readFile(join(state, 'image-version.json'))];
    await install(v2, state);
    const o = { stateDir: state, dryRun: false, exec: execFile };
    const plan = await rollback({ ...o, dryRun: true });
    expect(plan).toMatchObject({ undo: { version: '1.2.0' }, to: '1.1.0', done: false, missing: [] });
    expect(plan.steps.map((s) => s.kind)).toEqual(['file', 'stamp']);
    expect((await readFile(file)).equals(f1)).toBe(false);
    await expect(rollback({ ...o, to: '0.9.0' })).rejects.toMatchObject({ code: 'BAD_FLAG' });
    // The kept bytes gone: refused, naming where they would be; nothing changed.
    const rec = (await listHistory(state)).at(-1)!;
    const kept = join(state, 'history', rec.id, 'files', rec.files[0]!.before!.slice(7));
    const keptBytes = await readFile(kept);
    await rm(kept);
    const v2bytes = await readFile(file);
    await expect(rollback(o)).rejects.toMatchObject({ code: 'ROLLBACK_MISSING', message: expect.stringContaining(kept) });
    expect((await readFile(file)).equals(v2bytes)).toBe(true);
    await writeFile(kept, keptBytes);
    const done = await rollback(o);
    expect(done.done).toBe(false);
    expect((await readFile(file)).equals(f1)).toBe(true);
    expect((await readFile(join(state, 'image-version.json'))).equals(s1)).toBe(true);
    expect((await rollback(o)).done).toBe(true);
    const cli = await runCli(['rollback', '--dry-run', '--state-dir', state]);
    expect(cli.stdout).toContain('nothing to do');
    // The box is at 1.1.0 again; 1.2.0 installs over it as an upgrade.
    await install(v2, state);
    expect(JSON.parse(await readFile(join(state, 'image-version.json'), 'utf8'))).toMatchObject({ version: '1.2.0', previous_version: '1.1.0' });
  });
});
