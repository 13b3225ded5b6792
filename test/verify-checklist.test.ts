import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { buildIn } from './helpers/build.js';
import { fileManifest } from './helpers/fixtures.js';

let dir: string;
let split: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-checklist-'));
  const { manifest } = await fileManifest(dir, { sizes: [100, 200_000] });
  split = (await buildIn(dir, manifest, { out: join(dir, 'split'), media: 'fat32', partSize: 64 * 1024 })).dir;
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('verify checklist', () => {
  it('stops at a missing part and names the bundle from the bundle.json beside the parts', async () => {
    const d = await mkdtemp(join(dir, 'copy-'));
    await cp(split, d, { recursive: true });
    await rm(join(d, 'blobs.tar.0002'));
    const r = await verifyBundle(d);
    expect(r).toMatchObject({ ok: false, name: 'test', version: '1.0.0', files: 0, bytes: 0 });
    expect(r.steps.map((s) => s.name)).toEqual(['open']);
    expect(r.problems.map((p) => `${p.code} ${p.path}`)).toEqual(['PART_MISSING blobs.tar.0002']);
  });

  it('a missing part beside a bundle.json that is not JSON is still a report (the part named), not a crash', async () => {
    const d = await mkdtemp(join(dir, 'copy-'));
    await cp(split, d, { recursive: true });
    await rm(join(d, 'blobs.tar.0002'));
    await writeFile(join(d, 'bundle.json'), '{ not json');
    const r = await verifyBundle(d);
    expect(r).toMatchObject({ ok: false, files: 0, bytes: 0 });
    expect(r.name).toBeUndefined();
    expect(r.problems.map((p) => `${p.code} ${p.path}`)).toEqual(['PART_MISSING blobs.tar.0002']);
  });
});
