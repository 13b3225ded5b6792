import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PACKAGE_FIELDS, parseStanzas } from '../src/sources/apt/deb822.js';
import { parseStatus, toPackageRecord } from '../src/sources/apt/records.js';
import { parseRelations } from '../src/sources/apt/relations.js';
import { ClosureError, resolveClosure } from '../src/sources/apt/resolve/index.js';
import type { IndexRef, InstalledRecord, PackageRecord } from '../src/sources/apt/types.js';
import { compareVersions, satisfies } from '../src/sources/apt/version.js';

describe('dpkg version ordering', () => {
  const ordered: [string, string][] = [
    ['1.0~rc1', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0', '1.0+b1'],
    ['1.0-1', '1.0-1+b1'],
    ['1.0-1', '1.0-2'],
    ['1:0.9', '2:0.1'],
    ['9.9', '1:0.1'],
    ['1.0a', '1.0+'],
    ['1.0', '1.0a'],
    ['1.2.3', '1.10'],
    ['2.36-9+deb12u7', '2.36-9+deb12u14'],
    ['0.0.0', '0.0.0.0'],
    ['1.0-0ubuntu1', '1.0-1'],
    ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'],
  ];
  it.each(ordered)('%s < %s', (a, b) => {
    expect(compareVersions(a, b)).toBeLessThan(0);
    expect(compareVersions(b, a)).toBeGreaterThan(0);
  });
  it('treats leading zeros and a missing epoch as equal', () => {
    expect(compareVersions('1.01', '1.1')).toBe(0);
    expect(compareVersions('0:1.0', '1.0')).toBe(0);
  });
  it('agrees with the real dpkg --compare-versions on many pairs', () => {
    const vs = [
      '1.0',
      '1.0~rc1',
      '1.0-1',
      '1:1.0',
      '1.0+dfsg-2',
      '1.0.1',
      '2.0~beta1+git20240101',
      '0.9-3ubuntu1',
      '1.0a',
      '1.0-1~bpo12+1',
      '10',
      '9',
      '1.0+really0.9',
      'a',
      '1.0.0~~',
    ];
    const script = vs.flatMap((a) => vs.map((b) => `dpkg --compare-versions '${a}' lt '${b}' && echo 1 || echo 0`)).join('\n');
    const real = execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
    let i = 0;
    for (const a of vs) for (const b of vs) expect([a, b, compareVersions(a, b) < 0 ? '1' : '0']).toEqual([a, b, real[i++]]);
  });
  it('checks relation operators, including the obsolete < and >', () => {
    expect(satisfies('1.0', '>=', '1.0')).toBe(true);
    expect(satisfies('1.0', '>>', '1.0')).toBe(false);
    expect(satisfies('1.0', '<<', '1.0.1')).toBe(true);
    expect(satisfies('1.0', '<', '1.0')).toBe(true);
    expect(satisfies('2:1', '=', '2:1')).toBe(true);
  });
});

describe('relationship fields', () => {
  it('parses groups, alternatives, versions, arch qualifiers and drops restrictions', () => {
    expect(parseRelations('libc6 (>= 2.34), perl:any, a | b (<< 2) [amd64], c <!nocheck>')).toEqual([
      [{ name: 'libc6', op: '>=', version: '2.34' }],
      [{ name: 'perl', arch: 'any' }],
      [{ name: 'a' }, { name: 'b', op: '<<', version: '2' }],
      [{ name: 'c' }],
    ]);
    expect(parseRelations('debconf (>= 0.5) | debconf-2.0')[0]).toHaveLength(2);
    expect(parseRelations('')).toEqual([]);
  });
});

describe('deb822 stanzas', () => {
  const text = 'Package: a\nVersion: 1.0\nDescription: x\n more\n .\n end\n\nPackage: b\r\nversion: 2\r\nDEPENDS: a (>= 1),\n a2\n\n';
  it('yields the same stanzas however the input is cut', async () => {
    const want = [
      { package: 'a', version: '1.0' },
      { package: 'b', version: '2', depends: 'a (>= 1),\na2' },
    ];
    const buf = Buffer.from(text);
    for (let cut = 0; cut <= buf.length; cut++) {
      const got: Record<string, string>[] = [];
      for await (const s of parseStanzas([buf.subarray(0, cut), buf.subarray(cut)], new Set(['package', 'version', 'depends']))) got.push(s);
      expect(got).toEqual(want);
    }
  });
  it('reads chunks over 64 KiB, read in pieces, with UTF-8 values cut at any piece boundary', async () => {
    // Stanzas of about 100 bytes with a UTF-8 Homepage and a long ASCII Filename, padded so that values
    // start and end on both sides of the 65,536-byte piece boundaries at every offset.
    const stanzas: string[] = [];
    const want: Record<string, string>[] = [];
    for (let i = 0; i < 3000; i++) {
      const home = `https://example.org/${'é'.repeat(i % 7)}ünïcode/${i}`;
      const file = `pool/main/p/pkg${i}/pkg${i}_${'1.0'.repeat(1 + (i % 5))}_amd64.deb`;
      stanzas.push(`Package: pkg${i}\nHomepage: ${home}\nFilename: ${file}\nDescription: ${'d'.repeat(i % 13)}\n`);
      want.push({ package: `pkg${i}`, homepage: home, filename: file });
    }
    const buf = Buffer.from(stanzas.join('\n'));
    expect(buf.length).toBeGreaterThan(3 * 65536);
    for (const cut of [0, 1, 65535, 65536, 100_000, buf.length - 1]) {
      const got: Record<string, string>[] = [];
      for await (const s of parseStanzas([buf.subarray(0, cut), buf.subarray(cut)], new Set(['package', 'homepage', 'filename']))) got.push(s);
      expect(got).toEqual(want);
    }
  });
  it('reads installed packages from a dpkg status file', async () => {
    const status =
      'Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n\nPackage: c\nStatus: hold ok installed\nVersion: 3\nProvides: v\n';
    expect(await parseStatus([Buffer.from(status)])).toEqual([
      { package: 'a', version: '1', architecture: 'amd64' },
      { package: 'c', version: '3', architecture: 'all', provides: 'v' },
    ]);
  });
  it('builds records and skips stanzas that lack what locking needs', () => {
    const o = {} as IndexRef;
    expect(toPackageRecord({ package: 'a', version: '1', architecture: 'all', filename: 'p/a.deb', size: '10', sha256: 'AB' }, o)).toMatchObject({
      size: 10,
      sha256: 'ab',
    });
    expect(toPackageRecord({ package: 'a', version: '1' }, o)).toBeUndefined();
    expect(PACKAGE_FIELDS.has('pre-depends')).toBe(true);
  });
});

describe('resolver', () => {
  let n = 0;
  const origin: IndexRef = {
    uri: 'u',
    suite: 's',
    component: 'main',
    indexPath: 'p',
    releaseDigest: `sha256:${'0'.repeat(64)}`,
    signer: 'K',
    vendor: 'debian',
    distro: 'x',
    pin: 500,
  };
  const P = (name: string, version: string, f: Partial<PackageRecord> = {}): PackageRecord => ({
    package: name,
    version,
    architecture: 'amd64',
    filename: `pool/${name}_${version}.deb`,
    size: 1,
    sha256: String(n++).padStart(64, '0'),
    origin,
    ...f,
  });
  const names = (r: { packages: PackageRecord[] }) => r.packages.map((p) => `${p.package}=${p.version}`);
  const req = (packages: string[], o: Partial<{ exclude: string[]; recommends: boolean }> = {}) => ({
    packages,
    exclude: o.exclude ?? [],
    recommends: o.recommends ?? true,
    architectures: ['amd64'],
  });

  it('takes the highest version and follows versioned Depends and Pre-Depends', () => {
    const u = [P('a', '1', { depends: 'b (>= 2)', preDepends: 'c' }), P('b', '1'), P('b', '2'), P('b', '3'), P('c', '1')];
    expect(names(resolveClosure(u, [], req(['a'])))).toEqual(['a=1', 'b=3', 'c=1']);
  });
  it('honours name=version and refuses an unknown version or package', () => {
    const u = [P('a', '1'), P('a', '2')];
    expect(names(resolveClosure(u, [], req(['a=1'])))).toEqual(['a=1']);
    expect(() => resolveClosure(u, [], req(['a=9']))).toThrow(/a=9 is not in the sources \(available: 1, 2\)/);
    expect(() => resolveClosure(u, [], req(['zz']))).toThrow(ClosureError);
  });
  it('takes the first installable alternative, skipping one that conflicts', () => {
    const u = [P('a', '1', { depends: 'x, b | c' }), P('x', '1', { conflicts: 'b' }), P('b', '1'), P('c', '1')];
    expect(names(resolveClosure(u, [], req(['a'])))).toEqual(['a=1', 'c=1', 'x=1']);
  });
  it('satisfies a virtual package by its provider; versioned deps need versioned Provides', () => {
    const u = [P('a', '1', { depends: 'mail-transport-agent' }), P('postfix', '3', { provides: 'mail-transport-agent' })];
    expect(names(resolveClosure(u, [], req(['a'])))).toEqual(['a=1', 'postfix=3']);
    const v = [P('a', '1', { depends: 'v (>= 2)' }), P('p1', '1', { provides: 'v' }), P('p2', '1', { provides: 'v (= 2.5)' })];
    expect(names(resolveClosure(v, [], req(['a'])))).toEqual(['a=1', 'p2=1']);
  });
  it('prefers the real package, then higher Priority among providers', () => {
    const u = [P('a', '1', { depends: 'v' }), P('p1', '1', { provides: 'v', priority: 'optional' }), P('p2', '1', { provides: 'v', priority: 'important' })];
    expect(names(resolveClosure(u, [], req(['a'])))).toEqual(['a=1', 'p2=1']);
    const w = [P('a', '1', { depends: 'v' }), P('v', '1'), P('p2', '1', { provides: 'v', priority: 'required' })];
    expect(names(resolveClosure(w, [], req(['a'])))).toEqual(['a=1', 'v=1']);
  });
  it('follows Recommends unless told not to, and skips unsatisfiable ones', () => {
    const u = [P('a', '1', { recommends: 'r, missing' }), P('r', '1')];
    expect(names(resolveClosure(u, [], req(['a'])))).toEqual(['a=1', 'r=1']);
    expect(names(resolveClosure(u, [], req(['a'], { recommends: false })))).toEqual(['a=1']);
  });
  it('bundles only what the target lacks, and never downgrades it', () => {
    const inst: InstalledRecord[] = [{ package: 'b', version: '5', architecture: 'amd64' }];
    const u = [P('a', '1', { depends: 'b, c' }), P('b', '4'), P('c', '1')];
    expect(names(resolveClosure(u, inst, req(['a'])))).toEqual(['a=1', 'c=1']);
    const strict = [P('a', '1', { depends: 'b (= 4)' }), P('b', '4')];
    expect(() => resolveClosure(strict, inst, req(['a']))).toThrow(/Depends b \(= 4\).*the target has b 5.*needed by: a/);
  });
  it('names the missing dependency and the chain of who needs it', () => {
    const u = [P('top', '1', { depends: 'mid' }), P('mid', '1', { depends: 'gone (>= 2)' })];
    const err = (() => {
      try {
        resolveClosure(u, [], req(['top']));
      } catch (e) {
        return e as ClosureError;
      }
      throw new Error('no error');
    })();
    expect(err).toMatchObject({ code: 'UNSATISFIABLE', package: 'mid', missing: 'gone (>= 2)', neededBy: ['mid', 'top'] });
  });
  it('treats excluded packages as present', () => {
    const u = [P('a', '1', { depends: 'big' }), P('big', '1', { depends: 'huge' }), P('huge', '1')];
    expect(names(resolveClosure(u, [], req(['a'], { exclude: ['big'] })))).toEqual(['a=1']);
  });
  it('records why each package came in', () => {
    const u = [P('a', '1', { depends: 'b' }), P('b', '1', { recommends: 'c' }), P('c', '1')];
    const r = resolveClosure(u, [], req(['a']));
    expect(r.why.get('a:amd64')).toEqual({ by: '(requested)', field: 'request' });
    expect(r.why.get('c:amd64')).toEqual({ by: 'b:amd64', field: 'Recommends' });
  });
});
