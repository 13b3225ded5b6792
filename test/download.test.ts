import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchAll, fetchOne } from '../src/fetch/download.js';
import { HttpClient } from '../src/fetch/http.js';
import { fileSource } from '../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../src/sources/source.js';
import { digestOf, hexOf } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { BlobWriter, DIRECT_ALIGN, DIRECT_MIN_BYTES, releaseIdleSlots } from '../src/store/writer.js';
import { IntegrityError, InterruptedError, UpstreamError, VaultError } from '../src/util/errors.js';
import type { VaultEvent } from '../src/util/events.js';
import { type Limits, limits as defaults } from '../src/util/limits.js';
import { startProxy, startServer, type TestServer, PROXY_VARS, closedAfterEach, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

withoutHostProxy();

// --- per-test resources ---------------------------------------------------------------------------------------
const { servers, clients } = closedAfterEach();

async function server(files: Record<string, Uint8Array>): Promise<TestServer> {
  const s = await startServer(files);
  servers.push(s);
  return s;
}

const FAST: Partial<Limits> = {
  retries: 2,
  retryBaseDelayMs: 10,
  retryMaxDelayMs: 40,
  connectTimeoutMs: 2_000,
  headersTimeoutMs: 2_000,
  bodyTimeoutMs: 2_000,
};

interface Harness {
  ctx: BuildCtx;
  events: VaultEvent[];
  ac: AbortController;
  root: string;
}

async function harness(over: Partial<Limits> = {}, root?: string): Promise<Harness> {
  const dir = root ?? (await tempDir('vb-dl'));
  const l: Limits = { ...defaults, ...FAST, ...over };
  const http = new HttpClient(l);
  clients.push(http);
  const events: VaultEvent[] = [];
  const ac = new AbortController();
  return {
    ctx: {
      http,
      store: new Store(dir),
      report: (e) => events.push(e),
      signal: ac.signal,
      limits: l,
      baseDir: dir,
      manifestPath: join(dir, 'm.yaml'),
      target: { os: 'debian-12', arch: 'amd64' },
      now: new Date('2025-01-01T00:00:00Z'),
    },
    events,
    ac,
    root: dir,
  };
}

function sha256hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function lockedFor(name: string, data: Uint8Array, url: string, size = data.byteLength): Locked {
  return {
    kind: 'file',
    id: `file:${name}`,
    name,
    version: '1',
    digest: digestOf(sha256hex(data)),
    size,
    url,
    purl: `pkg:generic/${name}@1`,
    provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
  };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, but it resolved');
}

async function blobNames(root: string): Promise<string[]> {
  return readdir(join(root, 'blobs', 'sha256')).catch(() => []);
}

const partialPath = (root: string, it: Locked) => join(root, 'partial', `${hexOf(it.digest)}.part`);
const blobPath = (root: string, it: Locked) => join(root, 'blobs', 'sha256', hexOf(it.digest));
const ofType = <T extends VaultEvent['type']>(events: VaultEvent[], t: T) => events.filter((e): e is Extract<VaultEvent, { type: T }> => e.type === t);

const BIG = randomBytes(256 * 1024);

// --- downloads --------------------------------------------------------------------------------------------------
describe('fetchOne against a real HTTP server', () => {
  it('a plain download lands in the store as blobs/sha256/<hex> with the right bytes', async () => {
    const s = await server({ '/a.bin': BIG });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const blob = await fetchOne(it, h.ctx, fileSource);
    expect(blob).toEqual({ digest: it.digest, size: BIG.byteLength });
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
    expect(await blobNames(h.root)).toEqual([hexOf(it.digest)]);
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]!.range).toBeUndefined();
    expect(ofType(h.events, 'download:done')).toEqual([{ type: 'download:done', id: 'file:a', size: BIG.byteLength, cached: false }]);
    // Blobs are immutable.
    expect((await stat(blobPath(h.root, it))).mode & 0o222).toBe(0);
    // A second fetch is served from the store: no request.
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests).toHaveLength(1);
    expect(ofType(h.events, 'download:done').at(-1)).toMatchObject({ cached: true });
  });

  it('resumes after a connection reset mid-body with Range: bytes=N-', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ resetAfter: 100 * 1024 }]);
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests).toHaveLength(2);
    expect(s.requests[0]!.range).toBeUndefined();
    const m = /^bytes=(\d+)-$/.exec(s.requests[1]!.range ?? '');
    expect(m, `second request's Range: ${s.requests[1]!.range}`).not.toBeNull();
    const n = Number(m![1]);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(100 * 1024);
    expect(s.requests[1]!.status).toBe(206);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
    const retries = ofType(h.events, 'download:retry');
    expect(retries).toHaveLength(1);
    expect(ofType(h.events, 'download:start').map((e) => e.resumeFrom)).toEqual([0, n]);
  });

  it('a server that ignores Range still yields the right bytes after a reset', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ resetAfter: 64 * 1024 }], { ignoreRange: true });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(s.requests[1]!.status).toBe(200);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('a complete partial file (crash before rename) is finished through 416 and a restart', async () => {
    const s = await server({ '/a.bin': BIG });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await mkdir(join(h.root, 'partial'), { recursive: true });
    await writeFile(partialPath(h.root, it), BIG);
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests.map((r) => [r.range, r.status])).toEqual([
      [`bytes=${BIG.byteLength}-`, 416],
      [undefined, 200],
    ]);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('a damaged partial file: DIGEST_MISMATCH says "run it again" (not "update the pin"), and the rerun succeeds', async () => {
    const s = await server({ '/a.bin': BIG });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await mkdir(join(h.root, 'partial'), { recursive: true });
    const bad = Buffer.from(BIG.subarray(0, 200_000));
    bad[100] = bad[100]! ^ 0xff;
    await writeFile(partialPath(h.root, it), bad);
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', hint: expect.stringContaining('run it again') });
    expect((err as IntegrityError).hint).not.toContain('pin');
    await fetchOne(it, h.ctx, fileSource);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('500 then 200 is retried and succeeds, reporting download:retry', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ status: 500 }, { status: 503 }]);
    const h = await harness({ retries: 3 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests.map((r) => r.status)).toEqual([500, 503, 200]);
    const retries = ofType(h.events, 'download:retry');
    expect(retries.map((e) => e.attempt)).toEqual([1, 2]);
    expect(retries[0]!.id).toBe('file:a');
    expect(retries[0]!.reason).toMatch(/HTTP 500/);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(40);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('404 fails at once with UpstreamError NOT_FOUND naming the artifact, without retries', async () => {
    const s = await server({});
    const h = await harness({ retries: 3 });
    const it = lockedFor('gone', BIG, s.url('/gone.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('NOT_FOUND');
    expect((err as UpstreamError).subject).toBe('file:gone');
    expect((err as UpstreamError).message).toContain('file:gone');
    expect(s.requests).toHaveLength(1);
    expect(ofType(h.events, 'download:retry')).toHaveLength(0);
    expect(await blobNames(h.root)).toEqual([]);
  });

  it('a persistent 500 gives up after limits.retries with HTTP_STATUS', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { status: 500 });
    const h = await harness({ retries: 2 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('HTTP_STATUS');
    expect((err as UpstreamError).message).toContain('file:a');
    expect(s.requests).toHaveLength(3);
    expect(ofType(h.events, 'download:retry')).toHaveLength(2);
  });

  it('a body that stalls longer than bodyTimeoutMs on every attempt fails with TIMEOUT', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { stallAfter: 32 * 1024, stallMs: 5_000 });
    const h = await harness({ bodyTimeoutMs: 300, retries: 1, retryBaseDelayMs: 10 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const t0 = Date.now();
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('TIMEOUT');
    // undici's timers tick every ~500 ms, so 300 ms fires within a second; far less than the 5 s stall.
    expect(Date.now() - t0).toBeLessThan(3_500);
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    // The bytes that came stay for the next run to resume.
    expect(await stat(partialPath(h.root, it)).then((st) => st.size)).toBeGreaterThan(0);
    expect(await blobNames(h.root)).toEqual([]);
  });

  it('a body that stalls once is resumed on the retry and succeeds', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ stallAfter: 32 * 1024, stallMs: 2_000 }]);
    const h = await harness({ bodyTimeoutMs: 300, retries: 1, retryBaseDelayMs: 10 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(ofType(h.events, 'download:retry')[0]!.reason).toMatch(/timed out/);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('headers slower than headersTimeoutMs give TIMEOUT', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { delayHeadersMs: 1_500 });
    const h = await harness({ headersTimeoutMs: 300, retries: 0 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect((err as UpstreamError).code).toBe('TIMEOUT');
    expect(s.requests).toHaveLength(1);
  });

  it('wrong bytes give IntegrityError DIGEST_MISMATCH with expected and found; the partial is removed', async () => {
    const wrong = randomBytes(BIG.byteLength);
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { body: wrong });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(IntegrityError);
    const e = err as IntegrityError;
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.expected).toBe(it.digest);
    expect(e.found).toBe(digestOf(sha256hex(wrong)));
    expect(e.subject).toBe('file:a');
    // The hash was written in the manifest: fix it there; a plain build re-locks.
    expect(e.hint).toContain('fix the sha256 in the manifest, and run build again');
    expect(s.requests).toHaveLength(1); // bad bytes are not retried
    expect(await blobNames(h.root)).toEqual([]);
    await expect(stat(partialPath(h.root, it))).rejects.toThrow();
  });

  it('a shorter file than locked gives SIZE_MISMATCH and leaves nothing behind', async () => {
    const s = await server({ '/a.bin': BIG.subarray(0, 1000) });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).code).toBe('SIZE_MISMATCH');
    expect((err as IntegrityError).expected).toBe(String(BIG.byteLength));
    expect((err as IntegrityError).found).toBe('1000');
    expect(await blobNames(h.root)).toEqual([]);
    await expect(stat(partialPath(h.root, it))).rejects.toThrow();
  });

  it('a larger file than locked (Content-Length says so) gives SIZE_MISMATCH', async () => {
    const longer = Buffer.concat([BIG, randomBytes(4096)]);
    const s = await server({ '/a.bin': longer });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe('SIZE_MISMATCH');
    expect(err).toBeInstanceOf(IntegrityError);
    expect(s.requests).toHaveLength(1);
    expect(await blobNames(h.root)).toEqual([]);
  });

  it('a larger file than locked without Content-Length (chunked) gives SIZE_MISMATCH and removes the partial', async () => {
    const longer = Buffer.concat([BIG, randomBytes(4096)]);
    const s = await server({ '/a.bin': longer });
    s.script('/a.bin', [], { chunked: true });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe('SIZE_MISMATCH');
    expect(err).toBeInstanceOf(IntegrityError);
    expect(s.requests).toHaveLength(1);
    expect(await blobNames(h.root)).toEqual([]);
    await expect(stat(partialPath(h.root, it))).rejects.toThrow();
  });

  it('bytes sent past the declared Content-Length are not taken into the blob', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { extra: randomBytes(2048) });
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });

  it('a 206 with a malformed Content-Range fails in bounded time instead of asking again and again', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { status: 206, headers: { 'content-range': 'bytes garbage' } });
    const h = await harness({ retries: 1 });
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const outcome = await Promise.race([
      fetchOne(it, h.ctx, fileSource).then(
        () => 'resolved',
        (err: unknown) => err,
      ),
      new Promise((r) => setTimeout(() => r('still running'), 1_500)),
    ]);
    const n = s.requests.length;
    // Stop a runaway loop before the server goes away.
    h.ac.abort();
    expect(outcome, `${n} requests so far`).toBeInstanceOf(VaultError);
    expect(n).toBeLessThanOrEqual(4);
  });

  it('concurrent fetches of the same digest are coalesced into one GET', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ delayHeadersMs: 100 }]);
    const h = await harness();
    const a = lockedFor('a', BIG, s.url('/a.bin'));
    const b = { ...a, id: 'file:a-again', name: 'a-again' };
    const [ra, rb, rc] = await Promise.all([fetchOne(a, h.ctx, fileSource), fetchOne(b, h.ctx, fileSource), fetchOne(a, h.ctx, fileSource)]);
    expect(ra).toEqual(rb);
    expect(rc).toEqual(ra);
    expect(s.requests).toHaveLength(1);
    expect(Buffer.compare(await readFile(blobPath(h.root, a)), BIG)).toBe(0);
  });

  it('an abort mid-download gives InterruptedError and keeps the partial file for resume', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [{ stallAfter: 48 * 1024, stallMs: 5_000 }]);
    const h = await harness();
    const it = lockedFor('a', BIG, s.url('/a.bin'));
    const t0 = Date.now();
    let received = 0;
    const report = h.ctx.report;
    h.ctx.report = (e) => {
      report(e);
      if (e.type === 'download:progress') received += e.bytes;
      // Abort once the first 48 KiB have come and the server went quiet.
      if (received >= 48 * 1024 && !h.ac.signal.aborted) setTimeout(() => h.ac.abort(), 50);
    };
    const err = await caught(fetchOne(it, h.ctx, fileSource));
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).code).toBe('INTERRUPTED');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(ofType(h.events, 'download:retry')).toHaveLength(0);
    expect(await blobNames(h.root)).toEqual([]);
    const kept = (await stat(partialPath(h.root, it))).size;
    expect(kept).toBe(48 * 1024);

    // The next run resumes from what was kept.
    const h2 = await harness({}, h.root);
    await fetchOne(it, h2.ctx, fileSource);
    expect(s.requests.at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
  });
});

// --- large blobs: two reused buffers, O_DIRECT where the file system takes it -------------------------------------
const HUGE = randomBytes(9 * 1024 * 1024 + 4321); // several buffers' worth, not a whole number of sectors

/** Writes `data` from `from` on in random-sized chunks, as a network would hand them over. */
async function writeChunked(w: BlobWriter, data: Uint8Array, from = 0, to = data.byteLength): Promise<void> {
  for (let off = from; off < to;) {
    const n = Math.min(to - off, 1 + Math.floor(Math.random() * 200_000));
    const wait = w.write(data.subarray(off, off + n));
    if (wait) await wait;
    off += n;
  }
}

describe('large blobs', () => {
  it('a 9 MiB download lands intact and read-only, with no partial file left', async () => {
    expect(HUGE.byteLength).toBeGreaterThan(DIRECT_MIN_BYTES);
    const s = await server({ '/h.bin': HUGE });
    const h = await harness();
    const it = lockedFor('h', HUGE, s.url('/h.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), HUGE)).toBe(0);
    expect((await stat(blobPath(h.root, it))).mode & 0o222).toBe(0);
    expect(await readdir(join(h.root, 'partial'))).toEqual([]);
  });

  it('a reset mid-body resumes at what was received, rounded down to a sector for O_DIRECT', async () => {
    const s = await server({ '/h.bin': HUGE });
    s.script('/h.bin', [{ resetAfter: 5 * 1024 * 1024 + 777 }]);
    const h = await harness();
    let received = 0;
    let retried = false;
    const report = h.ctx.report;
    h.ctx.report = (e) => {
      report(e);
      if (e.type === 'download:retry') retried = true;
      if (e.type === 'download:progress' && !retried) received += e.bytes;
    };
    const it = lockedFor('h', HUGE, s.url('/h.bin'));
    await fetchOne(it, h.ctx, fileSource);
    expect(s.requests).toHaveLength(2);
    expect(received).toBeGreaterThan(0);
    // Everything received was on disk when the error came up; an O_DIRECT writer gives back the last partial sector.
    const at = BlobWriter.resumeOffset(received, HUGE.byteLength - received);
    expect(at === received || (at % DIRECT_ALIGN === 0 && received - at < DIRECT_ALIGN)).toBe(true);
    expect(s.requests[1]!.range).toBe(`bytes=${at}-`);
    expect(ofType(h.events, 'download:start').map((e) => e.resumeFrom)).toEqual([0, received]);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), HUGE)).toBe(0);
  });

  it('an abort keeps exactly the bytes received; the next run resumes after them', async () => {
    const s = await server({ '/h.bin': HUGE });
    s.script('/h.bin', [{ stallAfter: 3 * 1024 * 1024 + 99, stallMs: 5_000 }]);
    const h = await harness();
    let received = 0;
    const report = h.ctx.report;
    h.ctx.report = (e) => {
      report(e);
      if (e.type === 'download:progress') received += e.bytes;
      if (received >= 3 * 1024 * 1024 + 99 && !h.ac.signal.aborted) setTimeout(() => h.ac.abort(), 50);
    };
    const it = lockedFor('h', HUGE, s.url('/h.bin'));
    expect(await caught(fetchOne(it, h.ctx, fileSource))).toBeInstanceOf(InterruptedError);
    const kept = await readFile(partialPath(h.root, it));
    expect(kept.byteLength).toBe(3 * 1024 * 1024 + 99);
    expect(Buffer.compare(kept, HUGE.subarray(0, kept.byteLength))).toBe(0);

    const h2 = await harness({}, h.root);
    await fetchOne(it, h2.ctx, fileSource);
    const at = BlobWriter.resumeOffset(kept.byteLength, HUGE.byteLength - kept.byteLength);
    expect(s.requests.at(-1)!.range).toBe(`bytes=${at}-`);
    expect(Buffer.compare(await readFile(blobPath(h.root, it)), HUGE)).toBe(0);
  });

  it('BlobWriter: any chunking, direct or through the page cache, in one go or resumed, gives the same file', async () => {
    const dir = await tempDir('vb-writer');
    const direct = await BlobWriter.open(join(dir, 'd'), 0, HUGE.byteLength);
    await writeChunked(direct, HUGE);
    expect(await direct.finish()).toBe(HUGE.byteLength);
    const buffered = await BlobWriter.open(join(dir, 'b'), 0, HUGE.byteLength, { direct: false });
    expect(buffered.isDirect).toBe(false);
    await writeChunked(buffered, HUGE);
    await buffered.finish();
    // Cut short at an odd offset (the tail sector is written padded, then the file is cut to the bytes received),
    // then resumed from the offset resumeOffset gives, as the store does.
    const cut = 6 * 1024 * 1024 + 12345;
    const first = await BlobWriter.open(join(dir, 'r'), 0, HUGE.byteLength);
    await writeChunked(first, HUGE, 0, cut);
    await first.abort(true);
    expect((await stat(join(dir, 'r'))).size).toBe(cut);
    const at = BlobWriter.resumeOffset(cut, HUGE.byteLength - cut);
    const { truncate } = await import('node:fs/promises');
    await truncate(join(dir, 'r'), at);
    const second = await BlobWriter.open(join(dir, 'r'), at, HUGE.byteLength - at);
    await writeChunked(second, HUGE, at);
    await second.finish();
    for (const f of ['d', 'b', 'r']) expect(Buffer.compare(await readFile(join(dir, f)), HUGE), f).toBe(0);
    // A writer refuses to write past the size it was opened for: a bug must not fill the disk.
    const small = await BlobWriter.open(join(dir, 's'), 0, 10, { direct: false });
    void small.write(new Uint8Array(10));
    expect(() => small.write(new Uint8Array(2 * 1024 * 1024))).toThrow(/past the end/);
    await small.abort(false);
  });

  it('the write buffers are let go only when no writer holds one, and a later writer makes new ones', async () => {
    const dir = await tempDir('vb-slots');
    const open = await BlobWriter.open(join(dir, 'a'), 0, HUGE.byteLength);
    expect(releaseIdleSlots()).toBe(false);
    await writeChunked(open, HUGE);
    await open.finish();
    expect(releaseIdleSlots()).toBe(true);
    const again = await BlobWriter.open(join(dir, 'b'), 0, HUGE.byteLength);
    await writeChunked(again, HUGE);
    await again.finish();
    expect(Buffer.compare(await readFile(join(dir, 'b')), HUGE)).toBe(0);
    expect(releaseIdleSlots()).toBe(true);
  });
});

describe('fetchAll', () => {
  it('fetches ~20 artifacts with concurrency 4 and never has more than 4 requests in flight', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) files[`/f${i}.bin`] = randomBytes(8 * 1024 + i);
    const s = await server(files);
    for (const p of Object.keys(files)) s.script(p, [], { delayHeadersMs: 40 });
    const h = await harness();
    const items = Object.entries(files).map(([p, d], i) => lockedFor(`f${i}`, d, s.url(p)));
    // A duplicate digest under another id is fetched once.
    items.push({ ...items[0]!, id: 'file:f0-dup', name: 'f0-dup' });
    const blobs = await fetchAll(items, h.ctx, { concurrency: 4, sourceFor: () => fileSource });
    expect(blobs).toHaveLength(20);
    expect(s.requests).toHaveLength(20);
    expect(s.maxInFlight).toBeLessThanOrEqual(4);
    expect(s.maxInFlight).toBe(4);
    expect((await blobNames(h.root)).sort()).toEqual(
      items
        .slice(0, 20)
        .map((it) => hexOf(it.digest))
        .sort(),
    );
  });

  it('starts the largest files first and returns blobs in the order asked', async () => {
    const small = randomBytes(1000);
    const big = randomBytes(300 * 1024);
    const mid = randomBytes(40 * 1024);
    const s = await server({ '/small.bin': small, '/big.bin': big, '/mid.bin': mid });
    const h = await harness();
    const items = [lockedFor('small', small, s.url('/small.bin')), lockedFor('big', big, s.url('/big.bin')), lockedFor('mid', mid, s.url('/mid.bin'))];
    const blobs = await fetchAll(items, h.ctx, { concurrency: 1, sourceFor: () => fileSource });
    expect(s.requests.map((r) => r.path)).toEqual(['/big.bin', '/mid.bin', '/small.bin']);
    expect(blobs.map((b) => b.size)).toEqual([1000, 300 * 1024, 40 * 1024]);
  });

  it('reports the first failure after every job settled', async () => {
    const s = await server({ '/ok.bin': BIG });
    const h = await harness({ retries: 0 });
    const ok = lockedFor('ok', BIG, s.url('/ok.bin'));
    const missing = lockedFor('missing', randomBytes(10), s.url('/missing.bin'));
    const err = await caught(fetchAll([missing, ok], h.ctx, { concurrency: 2, sourceFor: () => fileSource }));
    expect((err as UpstreamError).code).toBe('NOT_FOUND');
    expect((err as UpstreamError).subject).toBe('file:missing');
    // The good one was not cut short.
    expect(await blobNames(h.root)).toEqual([hexOf(ok.digest)]);
  });
});

// --- proxy from the environment --------------------------------------------------------------------------------
describe('proxy settings from the environment', () => {
  async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const before = new Map(PROXY_VARS.map((k) => [k, process.env[k]]));
    for (const k of PROXY_VARS) delete process.env[k];
    Object.assign(process.env, env);
    try {
      return await fn();
    } finally {
      for (const [k, v] of before) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('HTTP_PROXY is honoured: the download goes through the proxy', async () => {
    const s = await server({ '/a.bin': BIG });
    const proxy = await startProxy({ allowConnect: true });
    try {
      const h = await withEnv({ HTTP_PROXY: proxy.url }, () => harness());
      const it = lockedFor('a', BIG, s.url('/a.bin'));
      await fetchOne(it, h.ctx, fileSource);
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.map((x) => x.target).join(' ')).toContain(new URL(s.origin).host);
      expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
    } finally {
      await proxy.close();
    }
    expect(process.env.HTTP_PROXY).toBeUndefined();
  });

  it('for an http:// URL the proxy gets an absolute-form GET (as curl and apt send), not a CONNECT tunnel', async () => {
    const s = await server({ '/a.bin': BIG });
    const proxy = await startProxy({ allowConnect: false });
    try {
      const h = await withEnv({ HTTP_PROXY: proxy.url }, () => harness({ retries: 0 }));
      const it = lockedFor('a', BIG, s.url('/a.bin'));
      const r = await fetchOne(it, h.ctx, fileSource).then(
        () => 'ok',
        (err: unknown) => err,
      );
      expect(proxy.seen).toEqual([{ method: 'GET', target: s.url('/a.bin') }]);
      expect(r).toBe('ok');
    } finally {
      await proxy.close();
    }
  });

  it('NO_PROXY=127.0.0.1 bypasses the proxy', async () => {
    const s = await server({ '/a.bin': BIG });
    const proxy = await startProxy({ allowConnect: true });
    try {
      const h = await withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, () => harness());
      const it = lockedFor('a', BIG, s.url('/a.bin'));
      await withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, () => fetchOne(it, h.ctx, fileSource));
      expect(proxy.seen).toEqual([]);
      expect(s.requests).toHaveLength(1);
      expect(Buffer.compare(await readFile(blobPath(h.root, it)), BIG)).toBe(0);
    } finally {
      await proxy.close();
    }
    expect(process.env.NO_PROXY).toBeUndefined();
  });
});

// --- the file source's resolve -----------------------------------------------------------------------------
describe('file source resolve', () => {
  it('probes the size with a bytes=0-0 range request', async () => {
    const s = await server({ '/a.bin': BIG });
    const h = await harness();
    const [locked] = await fileSource.resolve([{ name: 'a', url: s.url('/a.bin'), sha256: sha256hex(BIG) }], h.ctx);
    expect(locked!.size).toBe(BIG.byteLength);
    expect(locked!.digest).toBe(digestOf(sha256hex(BIG)));
    expect(locked!.id).toBe('file:a');
    expect(s.requests.map((r) => [r.method, r.range, r.status])).toEqual([['GET', 'bytes=0-0', 206]]);
  });

  it('takes the size from Content-Length when the server ignores the range', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { ignoreRange: true });
    const h = await harness();
    const [locked] = await fileSource.resolve([{ name: 'a', url: s.url('/a.bin'), sha256: sha256hex(BIG) }], h.ctx);
    expect(locked!.size).toBe(BIG.byteLength);
    expect(s.requests[0]!.status).toBe(200);
  });

  it('a server that says no size gives HTTP_STATUS asking for "size:"', async () => {
    const s = await server({ '/a.bin': BIG });
    s.script('/a.bin', [], { ignoreRange: true, chunked: true });
    const h = await harness();
    const err = await caught(fileSource.resolve([{ name: 'a', url: s.url('/a.bin'), sha256: sha256hex(BIG) }], h.ctx));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('HTTP_STATUS');
    expect((err as UpstreamError).hint).toMatch(/size:/);
  });

  it('a 404 on the probe gives NOT_FOUND naming the file', async () => {
    const s = await server({});
    const h = await harness();
    const err = await caught(fileSource.resolve([{ name: 'nope', url: s.url('/nope.bin'), sha256: sha256hex(BIG) }], h.ctx));
    expect((err as UpstreamError).code).toBe('NOT_FOUND');
    expect((err as UpstreamError).subject).toBe('file:nope');
  });

  it('a local path that does not exist gives UpstreamError NOT_FOUND naming the path', async () => {
    const h = await harness();
    const err = await caught(fileSource.resolve([{ name: 'k', path: 'missing/keyring.gpg', sha256: sha256hex(BIG) }], h.ctx));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('NOT_FOUND');
    expect((err as UpstreamError).message).toContain(join(h.root, 'missing/keyring.gpg'));
    expect((err as UpstreamError).subject).toBe('file:k');
  });

  it('a local path is sized from disk and fetched into the store', async () => {
    const h = await harness();
    await writeFile(join(h.root, 'k.gpg'), BIG);
    const [locked] = await fileSource.resolve([{ name: 'k', path: 'k.gpg', sha256: sha256hex(BIG) }], h.ctx);
    expect(locked!.size).toBe(BIG.byteLength);
    expect(locked!.url.startsWith('file:')).toBe(true);
    await fetchOne(locked!, h.ctx, fileSource);
    expect(Buffer.compare(await readFile(blobPath(h.root, locked!)), BIG)).toBe(0);
  });
});
