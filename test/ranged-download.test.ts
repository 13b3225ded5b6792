import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchAll } from '../src/fetch/download.js';
import { HttpClient } from '../src/fetch/http.js';
import { MIN_PART_BYTES, partBytesFor, streamsFor } from '../src/fetch/ranged.js';
import { fileSource } from '../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../src/sources/source.js';
import { digestOf, hexOf } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { IntegrityError, UpstreamError } from '../src/util/errors.js';
import type { VaultEvent } from '../src/util/events.js';
import { type Limits, limits as defaults } from '../src/util/limits.js';
import { startServer, closedAfterEach, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

// Big files are fetched in byte ranges at once (issue #16: build from `serve` on a fast, paced link); each part is
// retried and resumed on its own, and nothing lands until the whole file hashes to its locked digest.

withoutHostProxy();

const { servers, clients } = closedAfterEach();

/** 40 MiB: three parts (16 + 16 + 8 MiB) at the default concurrency. */
const DATA = randomBytes(40 << 20);
const PART = partBytesFor(DATA.byteLength, streamsFor(defaults.concurrency));

function harness(root: string, retries: number): { ctx: BuildCtx; events: VaultEvent[] } {
  const l: Limits = { ...defaults, retries, retryBaseDelayMs: 10, retryMaxDelayMs: 40, bodyTimeoutMs: 5_000 };
  const http = new HttpClient(l);
  clients.push(http);
  const events: VaultEvent[] = [];
  const ctx: BuildCtx = {
    http,
    store: new Store(root),
    report: (e) => events.push(e),
    signal: new AbortController().signal,
    limits: l,
    baseDir: root,
    manifestPath: join(root, 'm.yaml'),
    target: { os: 'debian-12', arch: 'amd64' },
    now: new Date('2025-01-01T00:00:00Z'),
  };
  return { ctx, events };
}

function locked(url: string): Locked {
  return {
    kind: 'file',
    id: 'file:big.bin',
    name: 'big.bin',
    version: '1',
    digest: digestOf(createHash('sha256').update(DATA).digest('hex')),
    size: DATA.byteLength,
    url,
    purl: 'pkg:generic/big.bin@1',
    provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
  };
}

const fetchRanged = (items: Locked[], ctx: BuildCtx) =>
  fetchAll(items, ctx, { concurrency: defaults.concurrency, sourceFor: () => fileSource, ranged: () => true });

/** Bytes a request's Range asks for (the whole file without one). */
function asked(range: string | undefined): number {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
  return m ? Number(m[2]) - Number(m[1]) + 1 : DATA.byteLength;
}

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

async function ctx0Has(ctx: BuildCtx, it: Locked): Promise<boolean> {
  return ctx.store.has(it.digest, it.size);
}
