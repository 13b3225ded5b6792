import { join } from 'node:path';
import { fetchAll } from '../../src/fetch/download.js';
import { HttpClient } from '../../src/fetch/http.js';
import { fileSource } from '../../src/sources/file/index.js';
import type { BuildCtx, Locked } from '../../src/sources/source.js';
import { digestOf } from '../../src/store/digest.js';
import { Store } from '../../src/store/store.js';
import type { VaultEvent } from '../../src/util/events.js';
import { type Limits, limits as defaults } from '../../src/util/limits.js';

/** A build context over a cache at `root` with quick retries, its events collected; its client goes into `clients` when given. */
export function rangedHarness(
  root: string,
  retries: number,
  o: { clients?: { close(): Promise<unknown> }[]; signal?: AbortSignal } = {},
): { ctx: BuildCtx; events: VaultEvent[] } {
  const l: Limits = { ...defaults, retries, retryBaseDelayMs: 10, retryMaxDelayMs: 40, bodyTimeoutMs: 5_000 };
  const http = new HttpClient(l);
  o.clients?.push(http);
  const events: VaultEvent[] = [];
  const ctx: BuildCtx = {
    http,
    store: new Store(root),
    report: (e) => events.push(e),
    signal: o.signal ?? new AbortController().signal,
    limits: l,
    baseDir: root,
    manifestPath: join(root, 'm.yaml'),
    target: { os: 'debian-12', arch: 'amd64' },
    now: new Date('2025-01-01T00:00:00Z'),
  };
  return { ctx, events };
}

/** The locked file artifact `file:<name>` at `url`: `size` bytes of sha256 `hex`. */
export function lockedFile(url: string, hex: string, size: number, name: string): Locked {
  return {
    kind: 'file',
    id: `file:${name}`,
    name,
    version: '1',
    digest: digestOf(hex),
    size,
    url,
    purl: `pkg:generic/${name}@1`,
    provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
  };
}

/** The locked file artifact `file:big.bin` at `url`: `size` bytes of sha256 `hex`. */
export const lockedBig = (url: string, hex: string, size: number): Locked => lockedFile(url, hex, size, 'big.bin');

/** Fetches file artifacts with ranged downloads allowed, at the default concurrency. */
export const fetchRanged = (items: Locked[], ctx: BuildCtx) =>
  fetchAll(items, ctx, { concurrency: defaults.concurrency, sourceFor: () => fileSource, ranged: () => true });

/** Bytes a request's Range asks for (`whole` without one). */
export function askedBytes(range: string | undefined, whole: number): number {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
  return m ? Number(m[2]) - Number(m[1]) + 1 : whole;
}
