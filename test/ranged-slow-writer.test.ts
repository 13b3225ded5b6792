import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchAll } from '../src/fetch/download.js';
import { HttpClient } from '../src/fetch/http.js';
import { streamsFor } from '../src/fetch/ranged.js';
import { fileSource } from '../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../src/sources/source.js';
import { digestOf } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { limits as defaults } from '../src/util/limits.js';
import { closedAfterEach, startServer, withoutHostProxy } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

// Issue #14 (build's peak RSS): a ranged download's streams each gather the network's chunks before one writev and
// hold them while it runs. With a disk slower than the network every stream holds its batch at once: the batch is
// what bounds the live socket buffers (1 MiB batches were 32 MB over 32 streams beside a writing dd: 151 MiB peak).

withoutHostProxy();
const { servers, clients } = closedAfterEach();
const DATA = randomBytes(48 << 20);
const BATCH_MAX = (256 << 10) + (64 << 10); // one batch, plus the chunk that crossed its mark

afterEach(() => vi.restoreAllMocks());

describe('ranged downloads with a slow disk', () => {
  it('hold at most one small batch a stream while a write runs, whatever the network sends', async () => {
    const s = await startServer({ '/big.bin': DATA });
    servers.push(s);
    const root = await tempDir('vb-ranged-slow');
    const probe = await open(join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { writev: (b: NodeJS.ArrayBufferView[], p?: number) => Promise<unknown> };
    await probe.close();
    const real = proto.writev;
    let inWrite = 0;
    let maxInWrite = 0;
    let maxCall = 0;
    vi.spyOn(proto, 'writev').mockImplementation(async function (this: unknown, bufs: NodeJS.ArrayBufferView[], pos?: number) {
      const n = bufs.reduce((a, b) => a + b.byteLength, 0);
      maxCall = Math.max(maxCall, n);
      inWrite += n;
      maxInWrite = Math.max(maxInWrite, inWrite);
      try {
        await sleep(15); // a disk slower than 127.0.0.1
        return await real.call(this, bufs, pos);
      } finally {
        inWrite -= n;
      }
    });
    const http = new HttpClient(defaults);
    clients.push(http);
    const ctx: BuildCtx = {
      http,
      store: new Store(root),
      report: () => undefined,
      signal: new AbortController().signal,
      limits: defaults,
      baseDir: root,
      manifestPath: join(root, 'm.yaml'),
      target: { os: 'debian-12', arch: 'amd64' },
      now: new Date('2025-01-01T00:00:00Z'),
    };
    const item: Locked = {
      kind: 'file',
      id: 'file:big.bin',
      name: 'big.bin',
      version: '1',
      digest: digestOf(createHash('sha256').update(DATA).digest('hex')),
      size: DATA.byteLength,
      url: s.url('/big.bin'),
      purl: 'pkg:generic/big.bin@1',
      provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
    };
    await fetchAll([item], ctx, { concurrency: defaults.concurrency, sourceFor: () => fileSource, ranged: () => true });
    expect(Buffer.compare(await readFile(ctx.store.path(item.digest)), DATA)).toBe(0);
    expect(maxCall).toBeGreaterThan(0);
    expect(maxCall).toBeLessThanOrEqual(BATCH_MAX);
    expect(maxInWrite).toBeLessThanOrEqual(streamsFor(defaults.concurrency) * BATCH_MAX);
  });
});
