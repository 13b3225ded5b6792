import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchAll } from '../src/fetch/download.js';
import { fetchThreadStats } from '../src/fetch/part-threads.js';
import { fileSource } from '../src/sources/file/index.js';
import type { Locked } from '../src/sources/source.js';
import { type Digest, digestOf } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { TeeFolder } from '../src/store/tee.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { buildIn } from './helpers/build.js';
import { lockedFile, rangedHarness } from './helpers/ranged.js';
import { type TestServer, closedAfterEach, startServer, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

// A fresh download also writes the bundle's copy of its blob, from the same buffers as the cache file
// (store/tee.ts): the cold build copies nothing out of the cache. A copy is taken only when its download landed
// whole; anything else (wrong bytes, a resumed download, a failed write to the copy) leaves none.

withoutHostProxy();
const { servers, clients } = closedAfterEach();

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
// One under store/writer.ts's DIRECT_MIN_BYTES (page cache), one over it with a tail that is no whole sector (O_DIRECT).
const SMALL = randomBytes(70_000);
const LARGE = randomBytes((6 << 20) + 1234);

const chunks = (data: Uint8Array) => {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.byteLength; at += 100_000) out.push(data.subarray(at, at + 100_000));
  return out;
};
const putWithTee = (store: Store, data: Uint8Array, tee: TeeFolder, digest: Digest = digestOf(sha(data))) =>
  store.put({ digest, size: data.byteLength, subject: 'file:t' }, () => Promise.resolve({ startedAt: 0, body: chunks(data) }), { tee });

/** `out`'s folder: in `dir`, or on a 64 KiB tmpfs mounted there (`full`: the copies' writes fail with ENOSPC mid-way). */
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
});
async function setup(o: { full?: boolean } = {}) {
  const dir = await tempDir('vb-tee');
  const store = new Store(join(dir, 'cache'));
  const beside = join(dir, 'small');
  await mkdir(beside);
  if (o.full) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', beside]);
    mounts.push(beside);
  }
  const tee = (await TeeFolder.beside(join(beside, 'out'), store.root))!;
  expect(tee).toBeDefined(); // no reflinks between these folders (tmpfs, ext4)
  return { dir, store, tee };
}
// Mounting a small tmpfs (a disk that fills mid-write) takes root, as CI has.
const asRoot = process.getuid?.() === 0;

const fileItem = (url: string, p: string, data: Uint8Array): Locked => lockedFile(url, sha(data), data.byteLength, p);

/** A manifest of small.bin and large.bin from `s`, pinned to the digests of `pins`. */
async function filesManifest(dir: string, s: TestServer, pins: [Uint8Array, Uint8Array]): Promise<string> {
  const manifest = join(dir, 'm.yaml');
  const lines = ['name: t', 'version: 1.0.0', 'target:', '  os: ubuntu-24.04', '  arch: amd64', 'files:'];
  for (const [i, p] of ['small.bin', 'large.bin'].entries()) lines.push(`  - name: ${p}`, `    url: ${s.url(`/${p}`)}`, `    sha256: ${sha(pins[i]!)}`);
  await writeFile(manifest, `${lines.join('\n')}\n`);
  return manifest;
}

describe('downloads write the bundle copy of their blob as they arrive', () => {
  it('a fresh put writes the copy from the same buffers: the same bytes, an inode of its own; take moves it in read-only, once', async () => {
    const { dir, store, tee } = await setup();
    for (const data of [SMALL, LARGE]) {
      const d = digestOf(sha(data));
      await putWithTee(store, data, tee);
      const to = join(dir, `placed-${data.byteLength}`);
      expect(await tee.take(d, to, data.byteLength)).toBe(true);
      expect(sha(await readFile(to))).toBe(sha(data));
      const [placed, cached] = [await stat(to), await stat(store.path(d))];
      expect(placed.ino).not.toBe(cached.ino);
      expect((placed.mode & 0o777).toString(8)).toBe('444');
      expect(await tee.take(d, join(dir, 'again'), data.byteLength)).toBe(false);
    }
    expect(await readdir(tee.dir)).toEqual([]);
    const parent = dirname(tee.dir);
    await tee.remove();
    expect(await readdir(parent)).not.toContain(basename(tee.dir));
  });

  it('wrong bytes: the put fails and its copy goes with its partial file', async () => {
    const { store, tee } = await setup();
    const claimed = digestOf(sha(SMALL));
    const err = await putWithTee(store, LARGE.subarray(0, SMALL.byteLength), tee, claimed).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await readdir(tee.dir)).toEqual([]);
    expect(await tee.take(claimed, join(tee.dir, 'x'), SMALL.byteLength)).toBe(false);
  });

  it('a resumed put writes no copy: the bytes of the attempt before are in the cache file only', async () => {
    const { dir, store, tee } = await setup();
    const d = digestOf(sha(LARGE));
    await mkdir(dirname(store.partialPath(d)), { recursive: true });
    await writeFile(store.partialPath(d), LARGE.subarray(0, 3 << 20));
    const blob = await store.put(
      { digest: d, size: LARGE.byteLength, subject: 'file:t' },
      (at) => Promise.resolve({ startedAt: at, body: chunks(LARGE.subarray(at)) }),
      { tee },
    );
    expect(blob.digest).toBe(d);
    expect(await tee.take(d, join(dir, 'p'), LARGE.byteLength)).toBe(false);
    expect(await readdir(tee.dir)).toEqual([]);
  });

  it("something already at the copy's path (a link) is never written through: no copy, the link's target untouched", async () => {
    const { dir, store, tee } = await setup();
    const victim = join(dir, 'victim');
    await writeFile(victim, 'keep me');
    await symlink(victim, tee.pathOf(digestOf(sha(SMALL))));
    await putWithTee(store, SMALL, tee);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
    expect(await tee.take(digestOf(sha(SMALL)), join(dir, 'p'), SMALL.byteLength)).toBe(false);
  });

  it.runIf(asRoot)('a disk that fills while the copy is written costs only the copy: the blob lands whole, no copy is taken', async () => {
    const { dir, store, tee } = await setup({ full: true });
    for (const data of [SMALL, LARGE]) {
      const d = digestOf(sha(data));
      await putWithTee(store, data, tee);
      expect(sha(await readFile(store.path(d)))).toBe(sha(data));
      expect(await tee.take(d, join(dir, `p-${data.byteLength}`), data.byteLength)).toBe(false);
    }
    expect(await readdir(tee.dir)).toEqual([]);
  });

  it('on the download thread (stream-worker.ts) too: the copies are whole and taken', async () => {
    const s = await startServer({ '/small.bin': SMALL, '/large.bin': LARGE });
    servers.push(s);
    const { dir, tee } = await setup();
    const { ctx } = rangedHarness(join(dir, 'cache'), 0, { clients });
    const before = fetchThreadStats().jobs;
    const items = [fileItem(s.url('/small.bin'), 'small.bin', SMALL), fileItem(s.url('/large.bin'), 'large.bin', LARGE)];
    await fetchAll(items, ctx, { concurrency: 2, sourceFor: () => fileSource, streamThreads: 1, tee });
    expect(fetchThreadStats().jobs).toBe(before + 2); // both on the thread, not handed back to this one
    for (const [p, data] of [
      ['s', SMALL],
      ['l', LARGE],
    ] as const) {
      expect(await tee.take(digestOf(sha(data)), join(dir, p), data.byteLength)).toBe(true);
      expect(sha(await readFile(join(dir, p)))).toBe(sha(data));
    }
  });

  it.runIf(asRoot)('on the download thread, a disk that fills while the copy is written costs only the copy', async () => {
    const s = await startServer({ '/small.bin': SMALL, '/large.bin': LARGE });
    servers.push(s);
    const { dir, tee } = await setup({ full: true });
    const { ctx } = rangedHarness(join(dir, 'cache'), 0, { clients });
    const before = fetchThreadStats().jobs;
    const items = [fileItem(s.url('/small.bin'), 'small.bin', SMALL), fileItem(s.url('/large.bin'), 'large.bin', LARGE)];
    await fetchAll(items, ctx, { concurrency: 2, sourceFor: () => fileSource, streamThreads: 1, tee });
    expect(fetchThreadStats().jobs).toBe(before + 2);
    for (const data of [SMALL, LARGE]) {
      expect(await tee.take(digestOf(sha(data)), join(dir, 'x'), data.byteLength)).toBe(false);
      expect(sha(await readFile(ctx.store.path(digestOf(sha(data)))))).toBe(sha(data));
    }
    expect(await readdir(tee.dir)).toEqual([]);
  });

  it('a build: a cold one writes its downloads into the bundle, VAULT_TEE=0 copies them; both verify, and no copies folder is left', async () => {
    const s = await startServer({ '/small.bin': SMALL, '/large.bin': LARGE });
    servers.push(s);
    const dir = await tempDir('vb-tee-build');
    const manifest = await filesManifest(dir, s, [SMALL, LARGE]);
    // --out in a folder that is not there yet (a first build's bundles/): made, and the copies written there too.
    const cold = await buildIn(dir, manifest, { out: join(dir, 'a', 'bundle') });
    expect(cold.copies).toMatchObject({ blobs: 0, written: 2 });
    expect(await readdir(join(dir, 'a'))).toEqual(['bundle']);
    expect((await verifyBundle(cold.dir)).ok).toBe(true);
    const saved = process.env.VAULT_TEE;
    process.env.VAULT_TEE = '0';
    try {
      const off = await buildIn(dir, manifest, { out: join(dir, 'b'), cacheDir: join(dir, 'cache2') });
      expect(off.copies).toMatchObject({ blobs: 2, written: 0 });
      expect((await verifyBundle(off.dir)).ok).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.VAULT_TEE;
      else process.env.VAULT_TEE = saved;
    }
    expect((await readdir(dir)).sort()).toEqual(['a', 'b', 'cache', 'cache2', 'm.lock.json', 'm.yaml']);
  });

  it('a failed download leaves no copy and no copies folder beside --out', async () => {
    const s = await startServer({ '/small.bin': SMALL, '/large.bin': LARGE });
    servers.push(s);
    const dir = await tempDir('vb-tee-fail');
    const manifest = await filesManifest(dir, s, [SMALL, SMALL]); // large.bin with small.bin's digest
    const err = await buildIn(dir, manifest, { out: join(dir, 'a') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 4 });
    expect((await readdir(dir)).sort()).toEqual(['cache', 'm.lock.json', 'm.yaml']);
  });
});
