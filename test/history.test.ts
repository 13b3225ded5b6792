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
  await writeFile(manifest, text.replace(/(    sha256: .+\n)/, `$1    install: { dest: ${join(dir, 'box', 'hist')} }\n`));
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
