import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_PART_BYTES, partBytesFor, streamsFor } from '../src/fetch/ranged.js';
import type { BuildCtx, Locked } from '../src/sources/source.js';
import { digestOf, hexOf } from '../src/store/digest.js';
import { copyBlobOut } from '../src/store/copy.js';
import { markAfter, proofOf, readProof, recordLanded, statBlob } from '../src/store/proof.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { buildIn } from './helpers/build.js';
import { flipByte, sha256 } from './helpers/fixtures.js';
import { IntegrityError, UpstreamError } from '../src/util/errors.js';
import { limits as defaults } from '../src/util/limits.js';
import { askedBytes, fetchRanged, lockedBig, rangedHarness } from './helpers/ranged.js';
import { startServer, closedAfterEach, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

// Big files are fetched in byte ranges at once (issue #16: build from `serve` on a fast, paced link); each part is
// retried and resumed on its own, and nothing lands until the whole file hashes to its locked digest.

withoutHostProxy();

const run = promisify(execFile);

const { servers, clients } = closedAfterEach();

/** 40 MiB: three parts (16 + 16 + 8 MiB) at the default concurrency. */
const DATA = randomBytes(40 << 20);
const PART = partBytesFor(DATA.byteLength, streamsFor(defaults.concurrency));

const HEX = createHash('sha256').update(DATA).digest('hex');
const harness = (root: string, retries: number) => rangedHarness(root, retries, { clients });
const locked = (url: string): Locked => lockedBig(url, HEX, DATA.byteLength);

const asked = (range: string | undefined) => askedBytes(range, DATA.byteLength);

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('ranged downloads', () => {
  it('fetches a big file in parts at once, each written at its offset, and lands the proven whole', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    const root = await tempDir('vb-ranged');
    const { ctx, events } = harness(root, 0);
    const it = locked(s.url('/big.bin'));
    await fetchRanged([it], ctx);
    expect(PART).toBe(MIN_PART_BYTES);
    expect(s.requestsFor('/big.bin').map((r) => r.range)).toEqual([
      `bytes=0-${PART - 1}`,
      `bytes=${PART}-${2 * PART - 1}`,
      `bytes=${2 * PART}-${DATA.byteLength - 1}`,
    ]);
    expect(s.maxInFlight).toBeGreaterThan(1);
    expect(Buffer.compare(await readFile(ctx.store.path(it.digest)), DATA)).toBe(0);
    expect((await stat(ctx.store.path(it.digest))).mode & 0o222).toBe(0);
    expect(await readdir(join(root, 'partial'))).toEqual([]);
    expect(events.filter((e) => e.type === 'download:done')).toHaveLength(1);
  });

  it('a part that breaks mid-way is kept: the rerun fetches only the bytes still missing', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    // The second request breaks after 3 MiB (whichever part it is); no retries in this run.
    s.script('/big.bin', [{}, { resetAfter: 3 << 20 }]);
    const root = await tempDir('vb-ranged');
    const it = locked(s.url('/big.bin'));
    const first = harness(root, 0);
    const err = await caught(fetchRanged([it], first.ctx));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(await ctx0Has(first.ctx, it)).toBe(false);
    const left = (await readdir(join(root, 'partial'))).sort();
    expect(left).toEqual([`${hexOf(it.digest)}.part`, `${hexOf(it.digest)}.ranges`]);
    const sentFirst = s.requests.length;

    const again = harness(root, 0);
    await fetchRanged([it], again.ctx);
    expect(Buffer.compare(await readFile(again.ctx.store.path(it.digest)), DATA)).toBe(0);
    const rerun = s.requests.slice(sentFirst);
    const fetched = rerun.reduce((n, r) => n + asked(r.range), 0);
    // Only the broken part's rest: one request, for less than a part (what came before the reset was kept).
    expect(rerun).toHaveLength(1);
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(PART);
    const start = again.events.find((e) => e.type === 'download:start');
    expect(start && start.type === 'download:start' && start.resumeFrom).toBe(DATA.byteLength - fetched);
    expect(await readdir(join(root, 'partial'))).toEqual([]);
  });

  it('a part with wrong bytes refuses the whole file, named, and keeps nothing of it', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    const wrong = Buffer.from(DATA);
    for (let i = 0; i < wrong.byteLength; i += 4096) wrong[i] = wrong[i]! ^ 0xff;
    s.script('/big.bin', [{}, { body: wrong }]);
    const root = await tempDir('vb-ranged');
    const { ctx } = harness(root, 0);
    const it = locked(s.url('/big.bin'));
    const err = await caught(fetchRanged([it], ctx));
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', subject: 'file:big.bin', expected: it.digest });
    expect((err as Error).message).toContain('file:big.bin');
    expect(await ctx0Has(ctx, it)).toBe(false);
    expect(await readdir(join(root, 'partial'))).toEqual([]);
  });

  it('a server that ignores Range gets one stream instead', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    s.script('/big.bin', [], { ignoreRange: true });
    const root = await tempDir('vb-ranged');
    const { ctx, events } = harness(root, 0);
    const it = locked(s.url('/big.bin'));
    await fetchRanged([it], ctx);
    expect(Buffer.compare(await readFile(ctx.store.path(it.digest)), DATA)).toBe(0);
    expect(events.some((e) => e.type === 'info' && e.message.includes('one stream'))).toBe(true);
    expect(await readdir(join(root, 'partial'))).toEqual([]);
  });
});

/**
 * Issue #16: a ranged download is read back whole from its file and hashed before it lands, so it gets a cache
 * proof (proof.ts's ctime-before-mark rule, mtime as the witness across the rename) and the build's copy out of
 * the cache does not hash those bytes again; an in-place edit afterwards is still caught.
 */
describe('ranged downloads: the whole-file hash is a cache proof', () => {
  it('the landed blob has a proof its copy out uses (no second hash); an in-place edit after it, mtime put back, is still CACHE_CORRUPT', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    const root = await tempDir('vb-ranged');
    const { ctx } = harness(root, 0);
    const it = locked(s.url('/big.bin'));
    await fetchRanged([it], ctx);
    const cached = ctx.store.path(it.digest);
    const proof = await readProof(root, it.digest);
    expect(proof).toEqual(proofOf(await statBlob(cached)));

    let hashed = 0;
    const hash = async (p: string) => (hashed++, digestOf(sha256(await readFile(p))));
    expect(await copyBlobOut(ctx.store, it.digest, join(root, 'copy-1'), undefined, hash)).toBe('unchanged');
    expect(hashed).toBe(0);
    expect(Buffer.compare(await readFile(join(root, 'copy-1')), DATA)).toBe(0);

    const before = await statBlob(cached);
    await sleep(20); // past the clock tick of the landing, as a real edit would be
    await chmod(cached, 0o644);
    await flipByte(cached, 5 << 20);
    await chmod(cached, 0o444);
    const ns = before.mtimeNs % 1_000_000_000n;
    await run('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, '0')}`, cached]);
    const edited = await statBlob(cached);
    expect([edited.size, edited.mtimeNs, edited.ino]).toEqual([before.size, before.mtimeNs, before.ino]);
    const err = await caught(copyBlobOut(ctx.store, it.digest, join(root, 'copy-2'), undefined, hash));
    expect(err).toMatchObject({ code: 'CACHE_CORRUPT' });
    expect(hashed).toBe(1);
    expect(await readdir(root)).not.toContain('copy-2');
  });

  it('recordLanded: a write between the hash and the rename (even of the same bytes) leaves no proof; an untouched landing gets one', async () => {
    const root = await tempDir('vb-ranged');
    await mkdir(join(root, 'blobs/sha256'), { recursive: true });
    const d = digestOf(sha256('abc'));
    for (const touched of [true, false]) {
      const partial = join(root, 'p.part');
      await writeFile(partial, 'abc');
      await chmod(partial, 0o444);
      const mark = await markAfter(root, (await statBlob(partial)).ctimeNs);
      const before = await statBlob(partial);
      const after = await statBlob(partial);
      if (touched) {
        await flipByte(partial, 1);
        await flipByte(partial, 1);
      }
      const final = join(root, 'blobs/sha256', hexOf(d));
      await rename(partial, final);
      expect(await recordLanded(root, d, final, before, after, mark)).toBe(!touched);
      expect(await readProof(root, d)).toEqual(touched ? undefined : proofOf(await statBlob(final)));
      await rm(final, { force: true });
    }
  });

  it('a build copies a just-downloaded ranged blob out without hashing it again', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    const dir = await tempDir('vb-ranged');
    const manifest = join(dir, 'm.yaml');
    const lines = ['name: t', 'version: 1.0.0', 'target:', '  os: ubuntu-24.04', '  arch: amd64', 'files:'];
    lines.push('  - name: big', `    url: ${s.url('/big.bin')}`, `    sha256: ${sha256(DATA)}`);
    await writeFile(manifest, `${lines.join('\n')}\n`);
    const r = await buildIn(dir, manifest);
    expect(s.requestsFor('/big.bin').filter((q) => q.range).length).toBeGreaterThan(1);
    expect(r.copies).toEqual({ blobs: 1, unchanged: 1, reused: 0, written: 0 }); // a ranged download has no second copy
    expect((await verifyBundle(r.dir)).ok).toBe(true);
  });

  it('a single-stream download (the server ignores Range) is proven as it lands: its partial file had one writer (partial-lock.ts)', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    s.script('/big.bin', [], { ignoreRange: true });
    const root = await tempDir('vb-ranged');
    const { ctx } = harness(root, 0);
    const it = locked(s.url('/big.bin'));
    await fetchRanged([it], ctx);
    expect(await readProof(root, it.digest)).toBeDefined();
  });
});

async function ctx0Has(ctx: BuildCtx, it: Locked): Promise<boolean> {
  return ctx.store.has(it.digest, it.size);
}
