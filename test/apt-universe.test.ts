import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toPackageRecord } from '../src/sources/apt/records.js';
import { resolveClosure } from '../src/sources/apt/resolve/index.js';
import { Universe, recordTable } from '../src/sources/apt/universe.js';
import { Spill } from '../src/util/spill.js';
import { sampleStanzas, stanzaOrigin } from './helpers/apt-stanzas.js';

// The lock's compact universe (universe.ts) must give the resolver exactly the records toPackageRecord gives.
const origin = (component: string) => stanzaOrigin(component);
const stanzas = sampleStanzas;

const spillDir = mkdtempSync(join(tmpdir(), 'vb-universe-'));
afterAll(() => rmSync(spillDir, { recursive: true, force: true }));

describe.each([
  ['in memory', () => new Spill()],
  ['in a file', () => new Spill(spillDir)],
])('Universe (the lock parse stanzas as bytes) %s', (_, spill) => {
  const records = stanzas.map((s, i) => toPackageRecord(s, origin(i ? 'contrib' : 'main'))!);
  const u = new Universe(spill());
  for (const r of records) u.add(r);

  it('gives back each record exactly, property order included, and the same object every time', () => {
    expect(u.length).toBe(3);
    records.forEach((r, i) => {
      expect(u.get(i)).toStrictEqual(r);
      expect(Object.keys(u.get(i))).toEqual(Object.keys(r));
      expect(u.get(i)).toBe(u.get(i));
      expect([u.name(i), u.arch(i), u.provides(i)]).toEqual([r.package, r.architecture, r.provides]);
    });
  });

  it('peeks at the fields a scan reads, in one reused object', () => {
    const p = u.peek(1);
    expect([p.package, p.version, p.architecture, p.multiArch, p.depends, p.provides, p.enhances]).toEqual([
      'b',
      '3',
      'all',
      'foreign',
      'a (>= 1:2), d | e',
      'virt (= 3), other',
      'k',
    ]);
    expect(u.peek(0)).toBe(p);
    expect([p.package, p.depends, p.provides]).toEqual(['a', undefined, undefined]);
  });

  it('resolves as the array of records does', () => {
    const req = { packages: ['b'], exclude: [], recommends: false, architectures: ['amd64'] };
    const more = new Universe(spill());
    const list = [
      ...records.slice(0, 2),
      toPackageRecord(
        { package: 'c', version: '1', architecture: 'amd64', filename: 'c.deb', size: '1', sha256: '1'.repeat(64), provides: 'e' },
        origin('main'),
      )!,
      toPackageRecord({ package: 'd', version: '1', architecture: 'amd64', filename: 'd.deb', size: '1', sha256: '2'.repeat(64) }, origin('main'))!,
    ];
    for (const r of list) more.add(r);
    const a = resolveClosure(list, [], req);
    const b = resolveClosure(more, [], req);
    expect(b.packages.map((p) => `${p.package}=${p.version}`)).toEqual(a.packages.map((p) => `${p.package}=${p.version}`));
    expect(b.packages).toStrictEqual(a.packages);
    expect([...b.why]).toEqual([...a.why]);
    expect(resolveClosure(recordTable(list), [], req).packages).toStrictEqual(a.packages);
  });
});

describe('Universe in a file, past its first MiB', () => {
  // 20,000 rows of ~200 bytes: 4 MiB, so rows are read from the file (exact reads and the scan's window) and from the stage.
  const recs = Array.from({ length: 20000 }, (_, i) =>
    toPackageRecord(
      {
        package: `p${i}`,
        version: `1.${i}`,
        architecture: i % 3 ? 'amd64' : 'all',
        filename: `pool/main/p/p${i % 7}/p${i}_1.${i}_${i % 3 ? 'amd64' : 'all'}.deb`,
        size: String(i * 1000),
        sha256: i.toString(16).padStart(64, '0'),
        depends: `libc6 (>= 2.${i}), p${i + 1} | q${'x'.repeat(i % 100)}`,
        ...(i % 5 ? {} : { provides: `virt${i % 11}` }),
        homepage: `https://example.org/${i}`,
        'installed-size': String(i),
      },
      origin('main'),
    )!,
  );
  const spill = new Spill(spillDir);
  const u = new Universe(spill);
  for (const r of recs) u.add(r);

  it('keeps its rows in an unlinked file, and reads each back exactly, in order and at random', () => {
    expect(spill.onDisk).toBe(true);
    expect(readdirSync(spillDir)).toEqual([]);
    expect(spill.size).toBeGreaterThan(3 << 20);
    for (let i = 0; i < recs.length; i++) {
      const p = u.peek(i);
      expect([p.package, p.version, p.depends, p.provides]).toEqual([recs[i]!.package, recs[i]!.version, recs[i]!.depends, recs[i]!.provides]);
      expect(u.provides(i)).toBe(recs[i]!.provides);
    }
    for (const i of [19999, 0, 7777, 12345, 1, 19998]) expect(u.get(i)).toStrictEqual(recs[i]);
    u.close();
    expect(u.get(7777)).toStrictEqual(recs[7777]); // kept records stay
  });
});
