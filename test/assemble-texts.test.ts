import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleBundle } from '../src/bundle/assemble.js';
import type { BundleIndex } from '../src/bundle/index.js';
import { INDEX_SCHEMA } from '../src/bundle/layout.js';
import { parseSums } from '../src/bundle/sums.js';
import { Store } from '../src/store/store.js';
import { tempDir } from './helpers/tmp.js';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');

function emptyIndex(): BundleIndex {
  return {
    schema: INDEX_SCHEMA,
    name: 'texts',
    version: '1.0.0',
    created: '2026-12-06T00:00:00Z',
    tool: { name: 'vault-bundle', version: '0.0.0' },
    manifest: { path: 'manifest.yaml', inputsDigest: `sha256:${sha('m')}` },
    target: { os: 'debian-12', arch: 'amd64' },
    artifacts: [],
  };
}

// The texts of a bundle (bundle.json, the SBOM, views, sh entry points, SHA256SUMS): what assemble writes into the
// stage after the blobs, and what a failure among them leaves.
describe('the texts of a bundle', () => {
  it('SHA256SUMS lists every text with its digest', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    const views = { 'views/a.txt': 'view a\n', 'views/deep/b.json': '{"b":1}\n' };
    const scripts = { verify: '#!/bin/sh\necho verify\n', 'README-FIELD.txt': 'read me\n' };
    await assembleBundle(emptyIndex(), new Store(join(dir, 'cache')), out, { views, scripts });
    const sums = parseSums(await readFile(join(out, 'SHA256SUMS'), 'utf8'));
    for (const [name, text] of Object.entries({ ...views, ...scripts })) {
      expect(await readFile(join(out, name), 'utf8')).toBe(text);
      expect(sums.get(name)).toBe(sha(text));
    }
    for (const name of ['bundle.json', 'sbom.cdx.json']) expect(sums.get(name)).toBe(sha(await readFile(join(out, name), 'utf8')));
    expect([...sums.keys()].sort()).toEqual(['README-FIELD.txt', 'bundle.json', 'sbom.cdx.json', 'verify', ...Object.keys(views)].sort());
  });

  it('one text that cannot be written: the build fails, the old bundle stays whole, no stage is left behind', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    await assembleBundle(emptyIndex(), new Store(join(dir, 'cache')), out, { views: { 'views/a.txt': 'old\n' } });
    const before = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    // `blobs` is a folder of the stage: a text of that name cannot replace it (writeFileAtomic refuses a folder).
    const views = { 'views/a.txt': 'new\n', blobs: 'not a folder\n', 'views/c.txt': 'c\n' };
    await expect(assembleBundle(emptyIndex(), new Store(join(dir, 'cache')), out, { views })).rejects.toThrow();
    expect(await readFile(join(out, 'SHA256SUMS'), 'utf8')).toBe(before);
    expect(await readFile(join(out, 'views/a.txt'), 'utf8')).toBe('old\n');
    expect((await readdir(dir)).filter((n) => n !== 'cache').sort()).toEqual(['out']);
  });
});
