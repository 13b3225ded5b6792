import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptSource } from '../src/sources/apt/index.js';
import { type IdMemo, resolveClosure } from '../src/sources/apt/resolve/index.js';
import { toPackageRecord } from '../src/sources/apt/records.js';
import { aptSchema } from '../src/sources/apt/schema.js';
import { SEGMENT_DIR, idsKey, loadIds, loadSegment, saveIds, saveSegment } from '../src/sources/apt/universe-cache.js';
import { Universe } from '../src/sources/apt/universe.js';
import { gcStore } from '../src/store/maintain.js';
import { Store } from '../src/store/store.js';
import { Spill } from '../src/util/spill.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './helpers/apt-repo.js';
import { sampleStanzas, stanzaOrigin } from './helpers/apt-stanzas.js';
import { testBuildCtx } from './helpers/build.js';

// The lock keeps each Packages index's parsed rows in the cache (universe-cache.ts) and reads them instead of
// the index next time: the records must be exactly those a parse gives, and a segment that is not sound is
// never read.

const origin = (suite: string) => stanzaOrigin('main', suite);
const stanzas = sampleStanzas;
const HEX = 'c'.repeat(64);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-ucache-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe.each([
  ['in memory', () => new Spill()],
  ['in a file', () => new Spill(join(work, 'spill'))],
])('a universe segment (%s)', (_, spill) => {
  it('gives back the records a parse gives, with the origin of the index it is read for', async () => {
    const first = origin('bookworm');
    const records = stanzas.map((s) => toPackageRecord(s, first)!);
    const u = new Universe(spill());
    u.add(toPackageRecord({ ...stanzas[0]!, package: 'before' }, origin('other'))!); // rows of an earlier index are not in the segment
    for (const r of records) u.add(r);
    const root = join(work, `rt-${Math.random()}`);
    await saveSegment(root, HEX, u.segment(1));
    const seg = await loadSegment(root, HEX);
    expect(seg?.names).toEqual(['a', 'b', 'c']);
    await saveSegment(root, 'e'.repeat(64), u.segment(0, 2)); // a range that ends before the last row
    const head = await loadSegment(root, 'e'.repeat(64));
    expect(head?.names).toEqual(['before', 'a']);
    expect(head?.rows.length).toBe(head?.starts[2]);
    await saveSegment(root, 'f'.repeat(64), u.segment(2, 2)); // an index with no stanzas
    expect(await loadSegment(root, 'f'.repeat(64))).toMatchObject({ names: [], rows: Buffer.alloc(0) });

    const later = origin('trixie');
    const v = new Universe(spill());
    v.add(toPackageRecord({ ...stanzas[1]!, package: 'z', architecture: 'arm64' }, later)!); // other architectures known first
    v.addSegment(seg!, later);
    expect(v.length).toBe(4);
    records.forEach((r, i) => {
      expect(v.get(i + 1)).toStrictEqual({ ...r, origin: later });
      expect([v.name(i + 1), v.arch(i + 1), v.provides(i + 1)]).toEqual([r.package, r.architecture, r.provides]);
      const p = v.peek(i + 1);
      expect([p.package, p.version, p.architecture, p.multiArch, p.depends]).toEqual([r.package, r.version, r.architecture, r.multiArch, r.depends]);
    });
  });
});

describe.each([
  ['in memory', () => new Spill()],
  ['in a file', () => new Spill(join(work, 'spill'))],
])('Spill.bytes (%s)', (_, spill) => {
  it('copies any range back, across its 1 MiB pieces and the stage', () => {
    const s = spill();
    const rows: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const row = Buffer.alloc(70_001 + i * 997, i + 1);
      const { buf, at } = s.room(row.length);
      row.copy(buf, at);
      s.commit(at + row.length);
      rows.push(row);
    }
    const all = Buffer.concat(rows);
    expect(s.size).toBe(all.length);
    for (const [a, b] of [
      [0, all.length],
      [1, (1 << 20) + 5],
      [(1 << 20) - 3, (3 << 20) + 7],
      [all.length - 10, all.length],
      [5, 5],
    ]) {
      expect(s.bytes(a!, b!).equals(all.subarray(a, b))).toBe(true);
    }
    s.close();
  });
});

describe('a segment that is not sound is not read', () => {
  let root: string;
  let path: string;
  beforeAll(async () => {
    root = join(work, 'damage');
    const u = new Universe(new Spill());
    for (const s of stanzas) u.add(toPackageRecord(s, origin('bookworm'))!);
    await saveSegment(root, HEX, u.segment(0));
    path = join(root, SEGMENT_DIR, (await readdir(join(root, SEGMENT_DIR)))[0]!);
    expect(path).toContain(HEX);
    expect(await loadSegment(root, HEX)).toBeDefined();
  });
  const damaged = async (change: (file: string) => Promise<void>, hex = HEX) => {
    const copy = join(work, `copy-${Math.random()}`);
    const dir = join(copy, SEGMENT_DIR);
    await rm(copy, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const file = join(dir, path.slice(path.lastIndexOf('/') + 1).replace(HEX, hex));
    await copyFile(path, file);
    await change(file);
    return loadSegment(copy, hex);
  };

  it('a flipped bit in a row, in the names or in the digest', async () => {
    const size = (await stat(path)).size;
    for (const at of [size - 100, 60, size - 1]) {
      expect(
        await damaged(async (f) => {
          const b = await readFile(f);
          b[at]! ^= 1;
          await writeFile(f, b);
        }),
      ).toBeUndefined();
    }
  });

  it('a forged header, its digest made anew: sizes that do not add up, architectures that are not a list, another format', async () => {
    const reseal = (change: (h: Record<string, unknown>) => void) => async (f: string) => {
      const b = await readFile(f);
      const magic = 'vault-bundle universe segment\n'.length;
      const len = b.readUInt32LE(magic);
      const head = JSON.parse(b.toString('utf8', magic + 4, magic + 4 + len)) as Record<string, unknown>;
      change(head);
      const json = Buffer.from(JSON.stringify(head));
      const size = Buffer.alloc(4);
      size.writeUInt32LE(json.length);
      const body = Buffer.concat([b.subarray(0, magic), size, json, b.subarray(magic + 4 + len, b.length - 32)]);
      await writeFile(f, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    };
    expect(await damaged(reseal(() => {}))).toBeDefined(); // resealed as it was: read
    expect(await damaged(reseal((h) => (h.rows = -1)))).toBeUndefined();
    expect(await damaged(reseal((h) => ((h.rows = 2 ** 40), (h.namesBytes = -(2 ** 43)))))).toBeUndefined();
    expect(await damaged(reseal((h) => (h.archs = 'amd64')))).toBeUndefined();
    expect(await damaged(reseal((h) => (h.format = 'another parser')))).toBeUndefined();
    expect(await damaged(reseal((h) => (h.namesBytes = (h.namesBytes as number) - 1)))).toBeUndefined();
  });

  it("is the one parse kept of its index: another parser's goes when it is written, other files stay", async () => {
    const root = join(work, 'one-parse');
    const dir = join(root, SEGMENT_DIR);
    await mkdir(dir, { recursive: true });
    const older = join(dir, `${HEX}.0123456789abcdef`);
    const other = join(dir, `${'d'.repeat(64)}.0123456789abcdef`);
    const ids = join(dir, `${HEX}.ids`); // (not a name IDs get, but one that is not a parse)
    for (const f of [older, other, ids]) await writeFile(f, 'x');
    const u = new Universe(new Spill());
    u.add(toPackageRecord(stanzas[0]!, origin('bookworm'))!);
    await saveSegment(root, HEX, u.segment(0));
    expect(await loadSegment(root, HEX)).toBeDefined();
    expect((await readdir(dir)).sort()).toEqual([basename(path), basename(other), basename(ids)].sort());
  });

  it('a short file, an empty one, and another index under this name', async () => {
    expect(await damaged((f) => truncate(f, (Math.random() * 100) | 0))).toBeUndefined();
    expect(await damaged((f) => truncate(f, 0))).toBeUndefined();
    expect(await damaged(async () => {}, 'd'.repeat(64))).toBeUndefined();
    expect(await damaged(async () => {})).toBeDefined(); // the copy itself is sound
  });
});

describe("kept package IDs (apt's last tie-break between providers)", () => {
  const deb = (name: string, extra: Record<string, string> = {}) =>
    toPackageRecord(
      { package: name, version: '1', architecture: 'amd64', filename: `${name}.deb`, size: '1', sha256: '0'.repeat(64), ...extra },
      origin('bookworm'),
    )!;
  const universe = [deb('alpha', { depends: 'mta' }), deb('p1', { provides: 'mta' }), deb('zz', { depends: 'p2' }), deb('p2', { provides: 'mta' })];
  const req = { packages: ['alpha'], exclude: [], recommends: true, architectures: ['amd64'] };
  const picked = (ids: IdMemo) => resolveClosure(universe, [], req, ids).packages.map((p) => p.package);

  it('a complete scan gives the IDs a lazy one does; kept IDs are what decides', () => {
    const fresh: IdMemo = {};
    const first = picked(fresh);
    expect(first).toContain('alpha');
    const all = fresh.complete!();
    expect([...all.keys()].sort()).toEqual(['p1', 'p2']); // only packages with Provides are numbered
    expect(picked({ known: all })).toEqual(first);
    // The same IDs with p1's and p2's swapped pick the other provider: the kept IDs are read, not scanned again.
    const swapped = new Map(all).set('p1', all.get('p2')!).set('p2', all.get('p1')!);
    const other = picked({ known: swapped });
    expect(other).not.toEqual(first);
    expect(other.filter((n) => n.startsWith('p'))).toHaveLength(1);
  });
});

describe('kept package IDs on disk', () => {
  it('are read back only for their own key and when sound', async () => {
    const root = join(work, 'ids');
    const key = idsKey(['a'.repeat(64)], ['amd64'], []);
    expect(idsKey(['a'.repeat(64)], ['amd64', 'i386'], [])).not.toBe(key);
    expect(idsKey(['a'.repeat(64)], ['amd64'], [{ package: 'x', version: '1', architecture: 'amd64' }])).not.toBe(key);
    const ids = new Map([
      ['p1', 0],
      ['p2\0i386', 1],
    ]);
    await saveIds(root, key, ids);
    expect(await loadIds(root, key)).toEqual(ids);
    const other = idsKey(['b'.repeat(64)], ['amd64'], []);
    await copyFile(join(root, SEGMENT_DIR, `${key}.ids`), join(root, SEGMENT_DIR, `${other}.ids`));
    expect(await loadIds(root, other)).toBeUndefined();
    const file = join(root, SEGMENT_DIR, `${key}.ids`);
    const b = await readFile(file);
    b[5]! ^= 1;
    await writeFile(file, b);
    expect(await loadIds(root, key)).toBeUndefined();
  });
});

describe('lock with the indexes cached', () => {
  let key: SigningKey;
  let server: Awaited<ReturnType<typeof serveDir>>;
  beforeAll(async () => {
    key = await makeKey(work);
    const repo = join(work, 'repo');
    await makeRepo(repo, {
      key,
      packages: [
        { name: 'alpha', version: '1.0-1', depends: 'beta (>= 2), mta' },
        { name: 'beta', version: '2.1-1' },
        { name: 'beta', version: '1.0-1' },
        { name: 'postfixish', version: '3', provides: 'mta' },
        { name: 'eximish', version: '4', provides: 'mta' },
      ],
    });
    server = await serveDir(repo);
  });
  afterAll(() => server.close());

  const spec = () =>
    aptSchema.parse({ sources: [{ uri: server.url, suites: ['stable'], components: ['main'], 'signed-by': key.keyring }], packages: ['alpha'] });
  const ids = async (dir: string) => (await aptSource.resolve(spec(), testBuildCtx(dir))).map((a) => `${a.id} ${a.digest}`);

  it('reads the kept rows, not the index, and locks the same; a damaged segment is parsed anew and written again', async () => {
    const dir = await mkdtemp(join(work, 'lock-'));
    const cache = join(dir, 'cache');
    const first = await ids(dir);
    expect(first.map((l) => l.split(' ')[0])).toEqual(['apt:alpha@1.0-1:amd64', 'apt:beta@2.1-1:amd64', 'apt:eximish@4:amd64']); // the later-numbered of two providers
    const [name] = (await readdir(join(cache, SEGMENT_DIR))).filter((n) => !n.endsWith('.ids'));
    const indexHex = name!.slice(0, 64);
    const blob = join(cache, 'blobs', 'sha256', indexHex);
    expect((await stat(blob)).isFile()).toBe(true); // named by the digest the signed Release gives the index

    // The index blob made unreadable (same size: the store finds it by name and size): the segment is what is read.
    const gz = await readFile(blob);
    await writeFile(blob, Buffer.alloc(gz.length, 0x55));
    expect(await ids(dir)).toEqual(first);

    // A damaged segment is not read: with the index sound again it is parsed, and the segment written anew.
    await writeFile(blob, gz);
    const seg = join(cache, SEGMENT_DIR, name!);
    const bytes = await readFile(seg);
    bytes[bytes.length - 40]! ^= 0xff;
    await writeFile(seg, bytes);
    expect(await loadSegment(cache, indexHex)).toBeUndefined();
    expect(await ids(dir)).toEqual(first);
    expect(await loadSegment(cache, indexHex)).toBeDefined();

    // The lock's package IDs are kept beside (when the resolver needed them: here two packages provide mta).
    expect((await readdir(join(cache, SEGMENT_DIR))).filter((n) => n.endsWith('.ids'))).toHaveLength(1);

    // cache gc keeps a segment while its index blob stays; the IDs (named by their key) are made again by the next lock.
    await gcStore(new Store(cache), new Set([`sha256:${indexHex}` as const]));
    expect(await readdir(join(cache, SEGMENT_DIR))).toEqual([name]);
    expect(await ids(dir)).toEqual(first);
    // cache gc drops a segment with its index blob (no lock keeps an index), and the IDs.
    await gcStore(new Store(cache), new Set());
    expect(await readdir(join(cache, SEGMENT_DIR))).toEqual([]);
  });
});
