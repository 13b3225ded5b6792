import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installBundle } from '../src/install/install.js';
import { collectProbe } from '../src/probe/collect.js';
import { defaultImageVersion, readImageVersion } from '../src/state/image-version.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** A file bundle of `name` at `version` that installs one file under `dir/box`. */
async function bundle(dir: string, version: string, name = 'iv'): Promise<string> {
  const sub = join(dir, `src-${name}-${version}`);
  await mkdir(sub, { recursive: true });
  const { manifest } = await fileManifest(sub, { name, version, sizes: [64] });
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace(/( {4}sha256: .+\n)/, `$1    install: { dest: ${join(dir, 'box', name)} }\n`));
  return (await buildIn(sub, manifest, { out: join(dir, `${name}-${version}`) })).dir;
}

const install = (b: string, stateDir: string, o: Partial<Parameters<typeof installBundle>[0]> = {}) =>
  installBundle({ bundle: b, dryRun: false, stateDir, ignoreTarget: true, exec: execFile, report: () => {}, signal: new AbortController().signal, ...o });

describe('image-version.json', () => {
  it('a complete install stamps the box atomically; the next names the previous version; probe reads it', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    const stamp = join(dir, 'etc', 'vault-ai', 'image-version.json');
    const [v1, v2] = [await bundle(dir, '1.0.0'), await bundle(dir, '1.1.0')];
    const dry = await install(v1, state, { imageVersion: stamp, dryRun: true });
    expect(dry.stamp).toBeUndefined();
    expect(await readImageVersion(stamp)).toBeUndefined();
    const r1 = await install(v1, state, { imageVersion: stamp });
    const s1 = await readImageVersion(stamp);
    expect(s1).toEqual(r1.stamp);
    const idx = JSON.parse(await readFile(join(v1, 'bundle.json'), 'utf8'));
    const { createHash } = await import('node:crypto');
    expect(s1).toMatchObject({
      version: '1.0.0',
      build_date: idx.created.slice(0, 10),
      bundle: 'iv',
      bundle_digest: `sha256:${createHash('sha256')
        .update(await readFile(join(v1, 'bundle.json')))
        .digest('hex')}`,
      target: { os: idx.target.os, arch: idx.target.arch },
      via: 'install',
    });
    expect(s1!.previous_version).toBeUndefined();
    await install(v2, state, { imageVersion: stamp });
    expect(await readImageVersion(stamp)).toMatchObject({ version: '1.1.0', previous_version: '1.0.0' });
    const probe = await collectProbe({ exec: execFile, stateDirs: [state], files: { imageVersion: stamp } });
    expect(probe.imageVersion).toMatchObject({ present: true, file: stamp, stamp: { version: '1.1.0', bundle: 'iv' } });
  });

  it('--only (part of the bundle) and a failed install leave the stamp as it was; without --image-version it lies beside the journal', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    const v1 = await bundle(dir, '1.0.0');
    await install(v1, state, { only: ['file'] });
    expect(await readImageVersion(defaultImageVersion(state))).toBeUndefined();
    await install(v1, state);
    const before = await readFile(join(state, 'image-version.json'), 'utf8');
    expect(JSON.parse(before)).toMatchObject({ version: '1.0.0' });
    const v2 = await bundle(dir, '2.0.0');
    // The run stops as the file step starts (as a tool failing there would): journalled as stopped, no stamp.
    const report = (e: { type: string; phase?: string }) => {
      if (e.type === 'phase' && e.phase === 'install file') throw new Error('stopped here');
    };
    await expect(install(v2, state, { report })).rejects.toThrow('stopped here');
    const last = JSON.parse((await readFile(join(state, 'journal.jsonl'), 'utf8')).trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ bundle: { version: '2.0.0' }, ok: false, failedAt: 'file' });
    expect(await readFile(join(state, 'image-version.json'), 'utf8')).toBe(before);
    expect(defaultImageVersion('/var/lib/vault-bundle')).toBe('/etc/vault-ai/image-version.json');
  });
});
