// A fetch in a process of its own, for tests that kill it mid-download (test/ranged-threads.test.ts).
// Args: <cache root> <url> <sha256 hex> <size>. Prints "bytes <n>" as parts are written, "done" at the end.
import { join } from 'node:path';
import { fetchAll } from '../../src/fetch/download.js';
import { HttpClient } from '../../src/fetch/http.js';
import { fileSource } from '../../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../../src/sources/source.js';
import { digestOf } from '../../src/store/digest.js';
import { Store } from '../../src/store/store.js';
import { limits } from '../../src/util/limits.js';

const [root, url, hex, size] = process.argv.slice(2) as [string, string, string, string];
const http = new HttpClient(limits);
let bytes = 0;
const ctx: BuildCtx = {
  http,
  store: new Store(root),
  report: (e) => {
    if (e.type === 'download:progress') process.stdout.write(`bytes ${(bytes += e.bytes)}\n`);
  },
  signal: new AbortController().signal,
  limits: { ...limits, retries: 0 },
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
  digest: digestOf(hex),
  size: Number(size),
  url,
  purl: 'pkg:generic/big.bin@1',
  provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
};
await fetchAll([item], ctx, { concurrency: limits.concurrency, sourceFor: () => fileSource, ranged: () => true });
await http.close();
process.stdout.write('done\n');
