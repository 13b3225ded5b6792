import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchAll } from '../src/fetch/download.js';
import { fetchThreadStats } from '../src/fetch/part-threads.js';
import { streamThreadsFor } from '../src/fetch/stream-threads.js';
import { fileSource } from '../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../src/sources/source.js';
import { hexOf } from '../src/store/digest.js';
import { readProof } from '../src/store/proof.js';
import { limits as defaults } from '../src/util/limits.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { buildIn } from './helpers/build.js';
import { lockedFile, rangedHarness } from './helpers/ranged.js';
import { closedAfterEach, startServer, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

// Issue #14: single-stream downloads (apt's debs) are fetched, hashed and written on a worker thread
// (fetch/stream-threads.ts, stream-worker.ts, raw-get.ts); the main thread keeps the partial lock, the retries, the
// progress and the landing with its proof. Real servers on 127.0.0.1.

withoutHostProxy();
const { servers, clients } = closedAfterEach();

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FILES = {
  '/a.bin': randomBytes(300),
  '/b.bin': randomBytes(70_000),
  '/c.bin': randomBytes(5 << 20),
  '/d.bin': randomBytes((9 << 20) + 123),
  '/e.bin': new Uint8Array(0),
};

const locked = (url: string, data: Uint8Array): Locked => lockedFile(url, sha(data), data.byteLength, url.split('/').pop()!);

const fetchOn = (items: Locked[], ctx: BuildCtx, threads = 1) =>
  fetchAll(items, ctx, { concurrency: defaults.concurrency, sourceFor: () => fileSource, streamThreads: threads });

async function setup(retries = 0, signal?: AbortSignal) {
  const s = await startServer(FILES);
  servers.push(s);
  const root = await tempDir('vb-stream');
  return { s, root, ...rangedHarness(root, retries, { clients, ...(signal ? { signal } : {}) }) };
}

const landed = async (ctx: BuildCtx, it: Locked, data: Uint8Array) => Buffer.compare(await readFile(ctx.store.path(it.digest)), data) === 0;

describe('single-stream downloads on a thread', () => {
  it('how many threads: 1 from 4 cores on, none on 2; VAULT_STREAM_THREADS=N (0: none); none behind a proxy', () => {
    expect(streamThreadsFor({}, 2)).toBe(0);
    expect(streamThreadsFor({}, 4)).toBe(1);
    expect(streamThreadsFor({}, 16)).toBe(1);
    expect(streamThreadsFor({ VAULT_STREAM_THREADS: '0' }, 16)).toBe(0);
    expect(streamThreadsFor({ VAULT_STREAM_THREADS: '3' }, 2)).toBe(3);
    expect(streamThreadsFor({ http_proxy: 'http://127.0.0.1:9', VAULT_STREAM_THREADS: '3' }, 16)).toBe(0);
  });

  it('every file goes through the thread: the same bytes land with a proof, progress adds up, nothing is left', async () => {
    const { s, ctx, events, root } = await setup();
    const items = Object.entries(FILES).map(([p, d]) => locked(s.url(p), d));
    const before = fetchThreadStats().jobs;
    await fetchOn(items, ctx);
    expect(fetchThreadStats()).toEqual({ live: 0, jobs: before + items.length });
    for (const [i, d] of Object.values(FILES).entries()) {
      expect(await landed(ctx, items[i]!, d)).toBe(true);
      expect(await readProof(root, items[i]!.digest)).toBeDefined();
      expect(((await stat(ctx.store.path(items[i]!.digest))).mode & 0o777).toString(8)).toBe('444');
    }
    const total = Object.values(FILES).reduce((n, d) => n + d.byteLength, 0);
    expect(events.reduce((n, e) => n + (e.type === 'download:progress' ? e.bytes : 0), 0)).toBe(total);
    expect(s.requests.every((r) => r.headers['user-agent'] === 'vault-bundle' && r.range === undefined)).toBe(true);
    expect((await readdir(join(root, 'partial'))).sort()).toEqual([]);
  });

  it('no stream thread where ranged threads take the big files: the small ones stay on the main thread (one kind of thread a fetch, for memory)', async () => {
    const { ctx } = await setup();
    const big = randomBytes(40 << 20);
    const s = await startServer({ ...FILES, '/big.bin': big });
    servers.push(s);
    const items = [locked(s.url('/big.bin'), big), locked(s.url('/a.bin'), FILES['/a.bin']), locked(s.url('/c.bin'), FILES['/c.bin'])];
    const saved = process.env.VAULT_FETCH_THREADS;
    process.env.VAULT_FETCH_THREADS = '2';
    try {
      const before = fetchThreadStats().jobs;
      await fetchAll(items, ctx, { concurrency: defaults.concurrency, sourceFor: () => fileSource, streamThreads: 1, ranged: () => true });
      // Every thread job was a part of big.bin (one a ranged request); a.bin and c.bin came over the main thread's client.
      const parts = s.requestsFor('/big.bin').filter((r) => r.range !== undefined).length;
      expect(parts).toBeGreaterThan(1);
      expect(fetchThreadStats()).toEqual({ live: 0, jobs: before + parts });
    } finally {
      if (saved === undefined) delete process.env.VAULT_FETCH_THREADS;
      else process.env.VAULT_FETCH_THREADS = saved;
    }
    for (const it of items.slice(1)) expect(await landed(ctx, it, it.name === 'a.bin' ? FILES['/a.bin'] : FILES['/c.bin'])).toBe(true);
    expect(await landed(ctx, items[0]!, big)).toBe(true);
  });

  it('resumes a partial file: hashes what it holds on the thread and asks for the rest (or drops it when the server sends all)', async () => {
    const { s, ctx, root } = await setup();
    const d = FILES['/d.bin'];
    const c = FILES['/c.bin'];
    const [itD, itC] = [locked(s.url('/d.bin'), d), locked(s.url('/c.bin'), c)];
    await mkdir(join(root, 'partial'), { recursive: true });
    await writeFile(join(root, 'partial', `${hexOf(itD.digest)}.part`), d.subarray(0, 3_000_001));
    await writeFile(join(root, 'partial', `${hexOf(itC.digest)}.part`), c.subarray(0, 1 << 20));
    s.script('/c.bin', [{ ignoreRange: true }]);
    const before = fetchThreadStats().jobs;
    await fetchOn([itD, itC], ctx);
    expect(fetchThreadStats().jobs).toBe(before + 2);
    expect(s.requestsFor('/d.bin').map((r) => r.range)).toEqual(['bytes=3000001-']);
    expect(s.requestsFor('/c.bin').map((r) => r.range)).toEqual([`bytes=${1 << 20}-`]);
    expect(await landed(ctx, itD, d)).toBe(true);
    expect(await landed(ctx, itC, c)).toBe(true);
  });

  it('a connection reset mid-body is retried from what was written (Range from there)', async () => {
    const { s, ctx, events } = await setup(3);
    const d = FILES['/d.bin'];
    const it = locked(s.url('/d.bin'), d);
    s.script('/d.bin', [{ resetAfter: 4 << 20 }]);
    await fetchOn([it], ctx);
    expect(await landed(ctx, it, d)).toBe(true);
    expect(events.filter((e) => e.type === 'download:retry')).toHaveLength(1);
    const ranges = s.requestsFor('/d.bin').map((r) => r.range);
    expect(ranges[0]).toBeUndefined();
    expect(Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('wrong bytes: DIGEST_MISMATCH, a longer body SIZE_MISMATCH, and the partial file goes either way', async () => {
    const { s, ctx, root } = await setup();
    const c = FILES['/c.bin'];
    const it = locked(s.url('/c.bin'), c);
    s.script('/c.bin', [{ body: randomBytes(c.byteLength) }, { body: randomBytes(c.byteLength + 10) }]);
    await expect(fetchOn([it], ctx)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', exitCode: 4 });
    expect(await readdir(join(root, 'partial'))).toEqual([]);
    await expect(fetchOn([it], ctx)).rejects.toMatchObject({ code: 'SIZE_MISMATCH', exitCode: 4 });
    expect(await readdir(join(root, 'partial'))).toEqual([]);
    expect(await ctx.store.has(it.digest)).toBe(false);
  });

  it('what the thread does not know goes back to the main thread: the same errors and hints as without threads', async () => {
    const { s, ctx } = await setup();
    const a = FILES['/a.bin'];
    s.script('/a.bin', [], { status: 404 });
    const it = locked(s.url('/a.bin'), a);
    const off = await fetchOn([it], ctx, 0).catch((e: unknown) => e);
    const on = await fetchOn([it], ctx, 1).catch((e: unknown) => e);
    expect(s.requestsFor('/a.bin')).toHaveLength(3); // without threads; the thread's, then the main thread's
    expect(off).toMatchObject({ code: expect.any(String) });
    expect(on).toMatchObject({ code: (off as { code: string }).code, hint: (off as { hint: string }).hint, exitCode: (off as { exitCode: number }).exitCode });
    // A chunked body (no Content-Length): the main thread's client fetches it.
    s.script('/a.bin', [{ chunked: true }]);
    await fetchOn([it], ctx);
    expect(await landed(ctx, it, a)).toBe(true);
  });

  it('Ctrl-C mid-download: INTERRUPTED, the partial file keeps what arrived and its lock is let go; a rerun resumes', async () => {
    const ac = new AbortController();
    const { s, ctx, root } = await setup(0, ac.signal);
    const d = FILES['/d.bin'];
    const it = locked(s.url('/d.bin'), d);
    s.script('/d.bin', [{ stallAfter: 3 << 20, stallMs: 3_000 }]);
    setTimeout(() => ac.abort(), 400);
    await expect(fetchOn([it], ctx)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    const part = join(root, 'partial', `${hexOf(it.digest)}.part`);
    const kept = (await stat(part)).size;
    expect(kept).toBeGreaterThan(0);
    expect(Buffer.compare(await readFile(part), d.subarray(0, kept))).toBe(0);
    expect(await readdir(join(root, 'partial'))).toEqual([`${hexOf(it.digest)}.part`]);
    const again = rangedHarness(root, 0, { clients });
    await fetchOn([it], again.ctx);
    expect(s.requestsFor('/d.bin').at(-1)?.range).toBe(`bytes=${kept}-`);
    expect(await landed(again.ctx, it, d)).toBe(true);
  });

  it('a build with VAULT_STREAM_THREADS=1: its downloads go through the thread, land proven and are copied out unhashed', async () => {
    const dir = await tempDir();
    const s = await startServer(FILES);
    servers.push(s);
    const files = Object.entries(FILES).slice(0, 4);
    const manifest = join(dir, 'm.yaml');
    const lines = ['name: t', 'version: 1.0.0', 'target:', '  os: ubuntu-24.04', '  arch: amd64', '  python: "3.12"', 'files:'];
    for (const [p, d] of files) lines.push(`  - name: ${p.slice(1, 2)}`, `    url: ${s.url(p)}`, `    sha256: ${sha(d)}`);
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const saved = process.env.VAULT_STREAM_THREADS;
    process.env.VAULT_STREAM_THREADS = '1';
    try {
      const before = fetchThreadStats().jobs;
      const cold = await buildIn(dir, manifest);
      expect(fetchThreadStats()).toEqual({ live: 0, jobs: before + 4 });
      // The thread wrote each blob's bundle copy too (store/tee.ts): nothing copied out of the cache.
      expect(cold.copies).toEqual({ blobs: 0, unchanged: 0, reused: 0, written: 4 });
      expect((await verifyBundle(cold.dir)).ok).toBe(true);
      for (const [, d] of files) {
        const blob = join(cold.dir, 'blobs/sha256', sha(d));
        expect((await stat(blob)).ino).not.toBe((await stat(join(dir, 'cache/blobs/sha256', sha(d)))).ino);
        expect(((await stat(blob)).mode & 0o777).toString(8)).toBe('444');
      }
      expect(await readdir(join(dir, 'cache/partial'))).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.VAULT_STREAM_THREADS;
      else process.env.VAULT_STREAM_THREADS = saved;
    }
  });
});
