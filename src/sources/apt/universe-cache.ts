import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tempDone, tempSibling } from '../../util/temp.js';
import { idFormat } from './resolve/package-ids.js';
import type { SegmentOut, UniverseSegment } from './row-bytes.js';
import type { InstalledRecord } from './types.js';
import { rowCode } from './universe.js';
import { stanzaCode } from './deb822.js';
import { recordCode } from './records.js';
import { PackageCache } from './resolve/cache.js';
import { NameIndex } from './resolve/name-index.js';
import { parseRelations } from './relations.js';

/**
 * The lock's parse of each Packages index, kept in the cache: `universe/<sha256 of the index>.<format>`, the
 * rows universe.ts made of its stanzas. A lock whose indexes are cached reads these instead of decompressing and
 * parsing 67,000 stanzas again (Debian's main alone: 50 MB of text, ~1 s of the lock's 3.5 s).
 *
 * Trust: a segment is found by the sha256 the signed Release gives its index, and is read only when its own
 * sha256 (its last 32 bytes) matches the rest: a flipped bit, a truncated or half-written file, one renamed from
 * another index's name, or one of another row layout is not read; the index is parsed again and the segment
 * written anew. That is more than the index blob itself gets on a lock (found by name and size, as every cached
 * blob is: store.ts `has`), so the chain signed Release → index → stanza → .deb digest is as strong as before.
 * A writer who can change the cache can change both; the cache is the user's own folder.
 */
const MAGIC = Buffer.from('vault-bundle universe segment\n');
/**
 * What made a segment: the stanza reader, the record maker and the row layout, as code (minified or not). In the
 * name and the header, so a lock of a changed parser never reads what an older one kept.
 */
const FORMAT = createHash('sha256').update([stanzaCode(), recordCode(), rowCode()].join('\0')).digest('hex').slice(0, 16);

interface Header {
  index: string;
  format: string;
  rows: number;
  archs: string[];
  namesBytes: number;
  rowBytes: number;
}

/** Segments live as long as the cached index blob of the same hex (`cache gc` drops the rest). */
export const SEGMENT_DIR = 'universe';

const segmentPath = (root: string, indexHex: string) => join(root, SEGMENT_DIR, `${indexHex}.${FORMAT}`);

/** The segment of the index whose sha256 is `indexHex`; undefined when there is none or it is not sound. */
export async function loadSegment(root: string, indexHex: string): Promise<UniverseSegment | undefined> {
  const data = await kept(segmentPath(root, indexHex));
  if (!data) return undefined;
  try {
    return decode(data, indexHex);
  } catch {
    return undefined; // unreadable: parsed again, written again
  }
}

/** A segment's bytes (its digest already checked off) as a segment; undefined when they are not one. */
function decode(data: Buffer, indexHex: string): UniverseSegment | undefined {
  if (data.length < MAGIC.length + 4 || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const end = data.length;
  let p = MAGIC.length;
  const headLen = data.readUInt32LE(p);
  p += 4;
  const head = JSON.parse(data.toString('utf8', p, p + headLen)) as Partial<Header>;
  p += headLen;
  const size = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= end;
  const { rows: n, namesBytes, rowBytes, archs } = head;
  if (head.index !== indexHex || head.format !== FORMAT || !size(n) || !size(namesBytes) || !size(rowBytes)) return undefined;
  if (!Array.isArray(archs) || !archs.every((a) => typeof a === 'string') || p + 8 * n + 4 + namesBytes + rowBytes !== end) return undefined;
  const starts = new Uint32Array(n + 1);
  for (let r = 0; r <= n; r++, p += 4) starts[r] = data.readUInt32LE(p);
  const small = new Uint16Array(2 * n);
  for (let k = 0; k < 2 * n; k++, p += 2) small[k] = data.readUInt16LE(p);
  const names = n === 0 ? [] : data.toString('utf8', p, p + namesBytes).split('\n');
  p += namesBytes;
  const sound =
    names.length === n &&
    starts[0] === 0 &&
    starts[n] === rowBytes &&
    starts.every((s, r) => r === 0 || s >= starts[r - 1]!) &&
    small.every((v, k) => k % 2 === 1 || v < archs.length);
  return sound ? { rows: data.subarray(p, end), starts, small, names, archs } : undefined;
}

/** Keeps a segment for the next lock; a cache that cannot take it (read-only, full) is no error: it was a spare. */
export async function saveSegment(root: string, indexHex: string, seg: SegmentOut): Promise<void> {
  const n = seg.names.length;
  const names = Buffer.from(seg.names.join('\n'));
  const header: Header = { index: indexHex, format: FORMAT, rows: n, archs: seg.archs, namesBytes: names.length, rowBytes: seg.rowBytes };
  const head = Buffer.from(JSON.stringify(header));
  const fixed = Buffer.alloc(4 + 4 * (n + 1) + 4 * n);
  let p = fixed.writeUInt32LE(head.length, 0);
  for (const s of seg.starts) p = fixed.writeUInt32LE(s, p);
  for (const v of seg.small) p = fixed.writeUInt16LE(v, p);
  function* parts() {
    yield* [MAGIC, fixed.subarray(0, 4), head, fixed.subarray(4), names];
    yield* seg.rowChunks();
  }
  const path = segmentPath(root, indexHex);
  await keep(path, parts());
  // One parse per index: what a vault-bundle with another parser kept goes (Debian's main: 21 MB each).
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (name.startsWith(indexHex) && /^[0-9a-f]{64}\.[0-9a-f]{12,16}$/.test(name) && name !== basename(path)) {
      await rm(join(dirname(path), name), { force: true }).catch(() => undefined);
    }
  }
}

/** Writes `parts` and their sha256 under `path` (temp, then rename); a failure leaves nothing and is no error. */
async function keep(path: string, parts: Iterable<Buffer>): Promise<void> {
  const hash = createHash('sha256');
  const tmp = tempSibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    // No fsync: a file a crash left short fails its own digest and is made again.
    const fh = await open(tmp, 'wx', 0o644);
    try {
      for (const b of parts) {
        hash.update(b);
        await fh.write(b);
      }
      await fh.write(hash.digest());
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
  } finally {
    tempDone(tmp);
  }
}

/** The bytes before a kept file's trailing sha256 when it matches them. */
async function kept(path: string): Promise<Buffer | undefined> {
  const data = await readFile(path).catch(() => undefined);
  if (!data || data.length < 32) return undefined;
  const body = data.subarray(0, data.length - 32);
  return createHash('sha256').update(body).digest().equals(data.subarray(body.length)) ? body : undefined;
}

/**
 * apt's package IDs for one lock's stanzas (resolve/package-ids.ts), kept when its scan went through every
 * stanza (~0.5 s of a lock over Debian's indexes). Keyed by everything the scan reads: the indexes (their
 * digests, in the order apt reads them, and what parsed them), the architectures, the target's status and the
 * code of the scan (the scanner, the cache's name index and architecture rules, the relation parser).
 */
export function idsKey(indexes: readonly string[], architectures: readonly string[], installed: readonly InstalledRecord[]): string {
  const scanner = [idFormat(), PackageCache, NameIndex, parseRelations].map(String).join('\0');
  const h = createHash('sha256').update(`${FORMAT}\0${scanner}\0${architectures.join(' ')}\0${indexes.join(' ')}\0`);
  return h.update(JSON.stringify(installed)).digest('hex');
}

const idsPath = (root: string, key: string) => join(root, SEGMENT_DIR, `${key}.ids`);

export async function loadIds(root: string, key: string): Promise<Map<string, number> | undefined> {
  const body = await kept(idsPath(root, key));
  if (!body) return undefined;
  try {
    const { key: k, ids } = JSON.parse(body.toString('utf8')) as { key: unknown; ids: unknown };
    const pairs = Array.isArray(ids) && ids.every((e) => Array.isArray(e) && typeof e[0] === 'string' && Number.isSafeInteger(e[1]));
    return k === key && pairs ? new Map(ids as [string, number][]) : undefined;
  } catch {
    return undefined;
  }
}

export async function saveIds(root: string, key: string, ids: ReadonlyMap<string, number>): Promise<void> {
  await keep(idsPath(root, key), [Buffer.from(JSON.stringify({ key, ids: [...ids] }))]);
}
