import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sitePlan, verifiedBundle } from '../src/site/build.js';
import { type RunningSite, serveSite } from '../src/site/server.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * install of a served bundle's URL moves each unshared file blob from its pulled cache copy into place (written
 * once, not twice); a blob two artifacts share, and every blob under --keep-blobs, is copied as before.
 */
let work: string;
let site: RunningSite;
const ONE = Buffer.from('one of a kind\n'.repeat(1000));
const TWICE = Buffer.from('the same bytes at two places\n'.repeat(1000));
const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  work = await tempDir('vb-take');
  await writeFile(join(work, 'one.bin'), ONE);
  await writeFile(join(work, 'twice.bin'), TWICE);
  const root = join(work, 'root');
  const m = join(work, 'm.yaml');
  await writeFile(
    m,
    [
      'name: take-test',
      'version: 1.0.0',
      'target: {os: ubuntu-24.04, arch: amd64}',
      'files:',
      `  - { name: one.bin, path: one.bin, sha256: ${hex(ONE)}, install: { dest: ${join(root, 'one.bin')} } }`,
      `  - { name: twice-a.bin, path: twice.bin, sha256: ${hex(TWICE)}, install: { dest: ${join(root, 'a', 'twice.bin')} } }`,
      `  - { name: twice-b.bin, path: twice.bin, sha256: ${hex(TWICE)}, install: { dest: ${join(root, 'b', 'twice.bin')} } }`,
      '',
    ].join('\n'),
  );
  const r = await buildIn(work, m, { out: join(work, 'bundle') });
  const b = await verifiedBundle(r.dir, {});
  site = await serveSite(b, await sitePlan(b), { host: '127.0.0.1', port: 0 });
}, 120_000);
afterAll(async () => {
  await site?.drain(100);
});

const install = (cache: string, ...more: string[]) =>
  runCli([
    '--cache-dir',
    cache.startsWith('/') ? cache : join(work, cache),
    'install',
    `${site.url}/`,
    '--ignore-target',
    '--state-dir',
    join(work, `state-${basename(cache)}`),
    '--image-version',
    join(work, `state-${basename(cache)}`, 'iv.json'),
    ...more,
  ]);

/** The pulled copy's blobs left in the cache, by name. */
async function cached(cache: string): Promise<string[]> {
  const served = join(cache.startsWith('/') ? cache : join(work, cache), 'served');
  const [dir] = await readdir(served);
  return (await readdir(join(served, dir!, 'blobs', 'sha256')).catch(() => [] as string[])).sort();
}

describe('install from serve', () => {
  it('moves an unshared file blob into place, copies a shared one, and a rerun fetches it again and changes nothing', async () => {
    const first = await install('c1');
    expect(first.code, first.stderr).toBe(0);
    const root = join(work, 'root');
    expect(await readFile(join(root, 'one.bin'))).toEqual(ONE);
    expect(await readFile(join(root, 'a', 'twice.bin'))).toEqual(TWICE);
    expect(await readFile(join(root, 'b', 'twice.bin'))).toEqual(TWICE);
    // The taken blob is gone from the cache; the shared one stays. Every installed file is an inode of its own.
    expect(await cached('c1')).toEqual([hex(TWICE)]);
    const inodes = await Promise.all(['one.bin', 'a/twice.bin', 'b/twice.bin'].map(async (p) => (await stat(join(root, p))).ino));
    expect(new Set(inodes).size).toBe(3);
    expect(((await stat(join(root, 'one.bin'))).mode & 0o777).toString(8)).toBe('644');
    const again = await install('c1');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/file: 0 installed, 3 already in place/);
    expect(await readFile(join(root, 'one.bin'))).toEqual(ONE);
  }, 120_000);

  it('copies when the cache is on another file system than the destination (a rename cannot cross it)', async () => {
    const shm = await mkdtemp('/dev/shm/vb-take-');
    try {
      await rm(join(work, 'root'), { recursive: true, force: true });
      const r = await install(shm);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(work, 'root', 'one.bin'))).toEqual(ONE);
      expect(await cached(shm)).toEqual([hex(ONE), hex(TWICE)].sort());
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  }, 120_000);

  it('with --keep-blobs every blob is copied: the cache keeps it and so does the state folder', async () => {
    const r = await install('c2', '--keep-blobs');
    expect(r.code, r.stderr).toBe(0);
    expect(await cached('c2')).toEqual([hex(ONE), hex(TWICE)].sort());
    const [kept] = await readdir(join(work, 'state-c2', 'kept'));
    expect((await readdir(join(work, 'state-c2', 'kept', kept!, 'blobs', 'sha256'))).sort()).toEqual([hex(ONE), hex(TWICE)].sort());
  }, 120_000);
});
