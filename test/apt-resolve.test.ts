import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_FIELDS, parseStanzas, readStanzas } from '../src/sources/apt/deb822.js';
import { type StatusRecord, parseStatus, toPackageRecord } from '../src/sources/apt/records.js';
import { formatRelation, parseRelations } from '../src/sources/apt/relations.js';
import { ClosureError, resolveClosure } from '../src/sources/apt/resolve/index.js';
import type { IndexRef, InstalledRecord, PackageRecord, ResolveRequest } from '../src/sources/apt/types.js';
import { compareVersions, satisfies } from '../src/sources/apt/version.js';
import { type AptIso, aptIso, aptIsoWithStatus, aptPackagesFiles, aptPlan, hasApt, miniAptPlan } from './helpers/apt-iso.js';

// Real apt and dpkg, when this machine has them; the mirror tests also need the isolated apt's lists
// (/tmp/aptiso, made with `apt-get update` from this machine's sources if it is not there).
const APT = await hasApt();
const ISO: AptIso | undefined = APT ? await aptIso() : undefined;
const NO_MIRROR = APT ? 'no Debian mirror is configured in /etc/apt/sources.list.d, or it cannot be reached' : 'apt-get/dpkg are not installed';

/** Runs `sh -c script` with `input` on stdin; resolves with stdout. */
function sh(script: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`sh exited ${code}`))));
    p.stdin.end(input);
  });
}

describe('compareVersions: dpkg version ordering', () => {
  const ordered: [string, string][] = [
    ['1.0~rc1', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0~', '1.0'],
    ['1.0~rc1', '1.0~rc2'],
    ['1.0', '1.0+b1'],
    ['1.0', '1.0.1'],
    ['1.0-1', '1.0-1+b1'],
    ['1.0-1', '1.0-2'],
    ['1.0-9', '1.0-10'],
    ['1.0-1', '1.0.1-1'],
    ['2:1.0', '3:0.1'],
    ['1:9.9', '2:1.0'],
    ['9.9', '1:0.1'],
    ['1.0a', '1.0+'],
    ['1.0', '1.0a'],
    ['1.0A', '1.0a'],
    ['1.0a', '1.0b'],
    ['1.0+', '1.0.'],
    ['1.2.3', '1.10'],
    ['1.0.0', '1.0.0.0'],
    ['1.0-0ubuntu1', '1.0-1'],
    ['1.0-1~bpo12+1', '1.0-1'],
    ['1.0+really0.9', '1.0.1'],
    ['2.36-9+deb12u7', '2.36-9+deb12u14'],
    ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'],
    ['0.9', '0.10'],
    ['a', 'b'],
    ['1.0~rc1-1', '1.0-1'],
  ];
  it.each(ordered)('%s < %s', (a, b) => {
    expect(compareVersions(a, b)).toBeLessThan(0);
    expect(compareVersions(b, a)).toBeGreaterThan(0);
  });
  it.each([
    ['1.01', '1.1'],
    ['0:1.0', '1.0'],
    ['1.0-0', '1.0'],
    ['1.001-1', '1.1-1'],
    ['3:2.5', '3:2.5'],
  ])('%s = %s', (a, b) => {
    expect(compareVersions(a, b)).toBe(0);
    expect(compareVersions(b, a)).toBe(0);
  });
  it('checks relation operators, with the obsolete < and > meaning <= and >=', () => {
    expect(satisfies('1.0', '>=', '1.0')).toBe(true);
    expect(satisfies('1.0', '>>', '1.0')).toBe(false);
    expect(satisfies('1.0.1', '>>', '1.0')).toBe(true);
    expect(satisfies('1.0', '<<', '1.0.1')).toBe(true);
    expect(satisfies('1.0', '<<', '1.0')).toBe(false);
    expect(satisfies('1.0', '<=', '1.0~rc1')).toBe(false);
    expect(satisfies('1.0', '<', '1.0')).toBe(true);
    expect(satisfies('1.0', '>', '1.0')).toBe(true);
    expect(satisfies('1.1', '<', '1.0')).toBe(false);
    expect(satisfies('2:1', '=', '2:1')).toBe(true);
    expect(satisfies('2:1', '=', '1')).toBe(false);
  });
  it.skipIf(!APT)('agrees with `dpkg --compare-versions` on 200 pairs of real versions', async () => {
    // Versions of a real Packages file (or of this machine's dpkg status), in pairs chosen to be close:
    // random ones, versions of one package, and each version against small variations of itself.
    const source = ISO ? (await aptPackagesFiles(ISO))[0]?.file : undefined;
    const versions: string[] = [];
    const byName = new Map<string, string[]>();
    await readStanzas(createReadStream(source ?? '/var/lib/dpkg/status'), new Set(['package', 'version']), (s) => {
      if (!s.version || !s.package) return;
      versions.push(s.version);
      byName.set(s.package, [...(byName.get(s.package) ?? []), s.version]);
    });
    expect(versions.length).toBeGreaterThan(50);
    let seed = 42;
    const rnd = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    const pick = () => versions[rnd(versions.length)]!;
    const multi = [...byName.values()].filter((l) => l.length > 1);
    const pairs: [string, string][] = [];
    const tweaks = [
      (v: string) => `${v}~rc1`,
      (v: string) => `${v}+b1`,
      (v: string) => `${v}.0`,
      (v: string) => `1:${v}`,
      (v: string) => v.replace(/\d+(?=\D*$)/, (d) => String(Number(d) + 1)),
      (v: string) => `${v}a`,
    ];
    while (pairs.length < 80) pairs.push([pick(), pick()]);
    while (pairs.length < 120 && multi.length) {
      const l = multi[rnd(multi.length)]!;
      pairs.push([l[rnd(l.length)]!, l[rnd(l.length)]!]);
    }
    while (pairs.length < 200) {
      const v = pick();
      pairs.push([v, tweaks[rnd(tweaks.length)]!(v)]);
    }
    const out = await sh(
      'while read a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done',
      `${pairs.map(([a, b]) => `${a} ${b}`).join('\n')}\n`,
    );
    const real = out.trim().split('\n').map(Number);
    expect(real).toHaveLength(pairs.length);
    const ours = pairs.map(([a, b]) => Math.sign(compareVersions(a, b)));
    expect(pairs.map((p, i) => `${p[0]} ${p[1]} ${ours[i]}`)).toEqual(pairs.map((p, i) => `${p[0]} ${p[1]} ${real[i]}`));
  });
});

describe('parseRelations: relationship fields', () => {
  it('reads groups, alternatives, versions and architecture qualifiers; drops restrictions', () => {
    expect(parseRelations('libc6 (>= 2.34), perl:any, a | b (<< 2) [amd64], c <!nocheck>, python3:native, lib32z1:amd64 (= 1:1.2)')).toEqual([
      [{ name: 'libc6', op: '>=', version: '2.34' }],
      [{ name: 'perl', arch: 'any' }],
      [{ name: 'a' }, { name: 'b', op: '<<', version: '2' }],
      [{ name: 'c' }],
      [{ name: 'python3', arch: 'native' }],
      [{ name: 'lib32z1', arch: 'amd64', op: '=', version: '1:1.2' }],
    ]);
  });
  it('takes the obsolete < and > as <= and >=, and odd white space, including continuation lines', () => {
    expect(parseRelations('a (< 1), b (> 2),\n c(>=3),d( << 4 ) ,e   |f')).toEqual([
      [{ name: 'a', op: '<=', version: '1' }],
      [{ name: 'b', op: '>=', version: '2' }],
      [{ name: 'c', op: '>=', version: '3' }],
      [{ name: 'd', op: '<<', version: '4' }],
      [{ name: 'e' }, { name: 'f' }],
    ]);
  });
  it('reads (versioned) Provides, and formats relations back', () => {
    const p = parseRelations('mail-transport-agent, libgl1 (= 1.6.0), python3-numpy-abi9');
    expect(p).toEqual([[{ name: 'mail-transport-agent' }], [{ name: 'libgl1', op: '=', version: '1.6.0' }], [{ name: 'python3-numpy-abi9' }]]);
    expect(p.map((g) => g.map(formatRelation).join(' | '))).toEqual(['mail-transport-agent', 'libgl1 (= 1.6.0)', 'python3-numpy-abi9']);
    expect(formatRelation({ name: 'perl', arch: 'any', op: '>=', version: '5' })).toBe('perl:any (>= 5)');
  });
  it('is empty for an empty or missing field, and skips empty groups', () => {
    expect(parseRelations(undefined)).toEqual([]);
    expect(parseRelations('')).toEqual([]);
    expect(parseRelations('a, , b')).toEqual([[{ name: 'a' }], [{ name: 'b' }]]);
  });
});

describe('deb822: streaming stanzas', () => {
  const sample = [
    '# a comment line',
    'Package: alpha',
    'Version: 1.0-1',
    'Depends: libc6 (>= 2.34),',
    ' libfoo1 | libbar1',
    'Description: first line',
    ' more text',
    ' .',
    ' end',
    'Homepage: https://example.org/ünïcode',
    '',
    'PACKAGE: beta\r',
    'version: 2\r',
    'Pre-Depends: dpkg\r',
    '\r',
    'Package: gamma',
    'Version: 3',
    '   ',
    'Package: delta',
    'Version: 4',
    'Maintainer: Zoë <z@example.org>',
  ].join('\n');
  const fields = new Set(['package', 'version', 'depends', 'pre-depends', 'homepage', 'maintainer']);
  const want = [
    { package: 'alpha', version: '1.0-1', depends: 'libc6 (>= 2.34),\nlibfoo1 | libbar1', homepage: 'https://example.org/ünïcode' },
    { package: 'beta', version: '2', 'pre-depends': 'dpkg' },
    { package: 'gamma', version: '3' },
    { package: 'delta', version: '4', maintainer: 'Zoë <z@example.org>' },
  ];
  const bytes = Buffer.from(sample, 'utf8');
  const read = async (chunks: (Buffer | Uint8Array | string)[]) => {
    const got: Record<string, string>[] = [];
    await readStanzas(chunks, fields, (s) => got.push(s));
    return got;
  };
  it('yields the same stanzas wherever the input is cut (also inside a UTF-8 character)', async () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(await read([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(want);
    }
    for (let a = 0; a <= bytes.length; a += 7) {
      for (let b = a; b <= bytes.length; b += 11) {
        expect(await read([bytes.subarray(0, a), new Uint8Array(bytes.subarray(a, b)), bytes.subarray(b)])).toEqual(want);
      }
    }
  });
  it('takes one-byte chunks, strings, and an async stream; parseStanzas yields the same', async () => {
    expect(await read([...bytes].map((b) => Buffer.from([b])))).toEqual(want);
    expect(await read([sample])).toEqual(want);
    const it2: Record<string, string>[] = [];
    async function* gen() {
      for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
    }
    for await (const s of parseStanzas(gen(), fields)) it2.push(s);
    expect(it2).toEqual(want);
  });
  it('builds package records: numbers, flags, lower-case hashes; skips stanzas locking cannot use', () => {
    const o = { pin: 500 } as IndexRef;
    const rec = toPackageRecord(
      {
        package: 'a',
        version: '1',
        architecture: 'all',
        filename: 'pool/a.deb',
        size: '10',
        sha256: 'AB',
        essential: 'yes',
        protected: 'yes',
        'multi-arch': 'Foreign',
        'installed-size': '33',
        suggests: 'b',
      },
      o,
    );
    expect(rec).toMatchObject({ size: 10, sha256: 'ab', essential: true, important: true, multiArch: 'foreign', installedSize: 33, suggests: 'b', origin: o });
    expect(
      toPackageRecord({ package: 'a', version: '1', architecture: 'all', filename: 'f', size: '1', sha256: 'x', essential: 'no' }, o)?.essential,
    ).toBeUndefined();
    expect(toPackageRecord({ package: 'a', version: '1' }, o)).toBeUndefined();
    expect(PACKAGE_FIELDS.has('pre-depends') && PACKAGE_FIELDS.has('provides')).toBe(true);
  });
  it('reads the installed packages of a dpkg status file (install or hold, ok, installed)', async () => {
    const status = [
      'Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nInstalled-Size: 12\nDepends: b',
      'Package: b\nStatus: deinstall ok config-files\nVersion: 2',
      'Package: c\nStatus: hold ok installed\nVersion: 3\nProvides: v\nEssential: yes',
      'Package: d\nStatus: install ok unpacked\nVersion: 4',
    ].join('\n\n');
    const got = await parseStatus([Buffer.from(status)]);
    expect(got).toEqual([
      { package: 'a', version: '1', architecture: 'amd64', installedSize: 12, depends: 'b' },
      { package: 'c', version: '3', architecture: 'all', provides: 'v', essential: true },
    ]);
    expect((got[1] as StatusRecord).hold).toBe(true);
    expect((got[0] as StatusRecord).hold).toBeUndefined();
  });
  // Speed is measured in bench/apt.ts, not here.
  it.skipIf(!ISO)('parses every stanza of the largest real Packages file (about 50 MB)', async () => {
    const files = await aptPackagesFiles(ISO!);
    const sizes = await Promise.all(files.map(async (f) => (await stat(f.file)).size));
    const biggest = files[sizes.indexOf(Math.max(...sizes))]!.file;
    let n = 0;
    await readStanzas(createReadStream(biggest), PACKAGE_FIELDS, (s) => {
      if (toPackageRecord(s, { pin: 500 } as IndexRef)) n++;
    });
    // Every stanza of a Packages file starts with "Package:"; each must become a record.
    const stanzas = ((await readFile(biggest, 'latin1')).match(/^Package: /gm) ?? []).length;
    expect(n).toBe(stanzas);
    expect(n).toBeGreaterThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The resolver on hand-made universes. Every expectation is also what real apt (apt-get install -s over a
// local repository with the same packages and a dpkg status with the same installed ones) does, checked
// here when apt-get runs on this machine.

let n = 0;
const ORIGIN: IndexRef = {
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
type Extra = Partial<PackageRecord> & { important?: boolean; suggests?: string; replaces?: string };
const P = (name: string, version: string, f: Extra = {}): PackageRecord => ({
  package: name,
  version,
  architecture: 'amd64',
  filename: `pool/${name}_${version}.deb`,
  size: 1,
  sha256: String(n++).padStart(64, '0'),
  origin: ORIGIN,
  ...f,
});
type Inst = InstalledRecord & { hold?: boolean; source?: string; breaks?: string; conflicts?: string; recommends?: string };
const I = (name: string, version: string, f: Partial<Inst> = {}): Inst => ({ package: name, version, architecture: 'amd64', ...f });
interface Case {
  name: string;
  universe: PackageRecord[];
  installed?: Inst[];
  request: string[];
  recommends?: boolean;
  architectures?: string[];
  /** name=version (name:arch=version for a foreign architecture), or the error apt reports. */
  want: string[] | { error: RegExp; code: ClosureError['code'] };
}
const CASES: Case[] = [
  {
    name: 'the highest version; versioned Depends and Pre-Depends',
    universe: [P('a', '1', { depends: 'b (>= 2)', preDepends: 'c' }), P('b', '1'), P('b', '2'), P('b', '3'), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'b=3', 'c=1'],
  },
  {
    name: 'alternatives: the first installable one',
    universe: [P('a', '1', { depends: 'b | c' }), P('b', '1', { depends: 'missing' }), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=1'],
  },
  {
    name: 'alternatives: a group already satisfied by something marked is skipped',
    universe: [P('a', '1', { depends: 'd, b | c' }), P('b', '1'), P('c', '1'), P('d', '1', { depends: 'c' })],
    request: ['a'],
    want: ['a=1', 'c=1', 'd=1'],
  },
  {
    name: 'alternatives: what a failed attempt marked is dropped again (autoremove of new installs)',
    universe: [P('a', '1', { depends: 'b | c' }), P('b', '1', { depends: 'd, e' }), P('d', '1'), P('e', '1', { depends: 'missing' }), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=1'],
  },
  {
    name: 'a virtual package with one provider',
    universe: [P('a', '1', { depends: 'mta' }), P('postfix', '3', { provides: 'mta' })],
    request: ['a'],
    want: ['a=1', 'postfix=3'],
  },
  {
    name: 'several providers: the higher Priority',
    universe: [
      P('a', '1', { depends: 'v' }),
      P('p1', '1', { provides: 'v', priority: 'optional' }),
      P('p2', '1', { provides: 'v', priority: 'important' }),
      P('p3', '1', { provides: 'v', priority: 'standard' }),
    ],
    request: ['a'],
    want: ['a=1', 'p2=1'],
  },
  {
    name: 'several providers of one Priority: the one apt numbered last (named last)',
    universe: [P('a', '1', { depends: 'v' }), P('z2', '1', { provides: 'v', priority: 'optional' }), P('z1', '1', { provides: 'v', priority: 'optional' })],
    request: ['a'],
    want: ['a=1', 'z1=1'],
  },
  {
    name: 'several providers of one Priority: a name first met in Suggests or Replaces is numbered then',
    universe: [
      P('a', '1', { depends: 'v', suggests: 'z1' }),
      P('z2', '1', { provides: 'v', priority: 'optional' }),
      P('z1', '1', { provides: 'v', priority: 'optional' }),
    ],
    request: ['a'],
    want: ['a=1', 'z2=1'],
  },
  {
    name: 'a provider without Priority sorts before a required one (apt compares the numbers)',
    universe: [P('a', '1', { depends: 'v' }), P('p1', '1', { provides: 'v', priority: 'required' }), P('p0', '1', { provides: 'v' })],
    request: ['a'],
    want: ['a=1', 'p0=1'],
  },
  {
    name: 'the real package named by the dependency beats providers',
    universe: [P('a', '1', { depends: 'v' }), P('v', '1', { priority: 'optional' }), P('p2', '1', { provides: 'v', priority: 'required' })],
    request: ['a'],
    want: ['a=1', 'v=1'],
  },
  {
    name: 'an Essential provider beats a higher Priority',
    universe: [
      P('a', '1', { depends: 'v' }),
      P('p1', '1', { provides: 'v', priority: 'required' }),
      P('p2', '1', { provides: 'v', priority: 'optional', essential: true }),
    ],
    request: ['a'],
    want: ['a=1', 'p2=1'],
  },
  {
    name: 'versioned Provides satisfy versioned dependencies; unversioned ones never do',
    universe: [P('a', '1', { depends: 'v (>= 2)' }), P('p1', '1', { provides: 'v', priority: 'required' }), P('p2', '1', { provides: 'v (= 2.5)' })],
    request: ['a'],
    want: ['a=1', 'p2=1'],
  },
  {
    name: 'a versioned dependency no Provides satisfies',
    universe: [P('a', '1', { depends: 'v (>= 3)' }), P('p1', '1', { provides: 'v' }), P('p2', '1', { provides: 'v (= 2.5)' })],
    request: ['a'],
    want: { error: /a 1 Depends v \(>= 3\), which no package in the sources satisfies/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'pkg:any is satisfied by Multi-Arch: allowed',
    universe: [P('a', '1', { depends: 'perl:any' }), P('perl', '5', { multiArch: 'allowed' })],
    request: ['a'],
    want: ['a=1', 'perl=5'],
  },
  {
    name: 'pkg:any is not satisfied without Multi-Arch: allowed',
    universe: [P('a', '1', { depends: 'perl:any' }), P('perl', '5', { multiArch: 'foreign' })],
    request: ['a'],
    want: { error: /Depends perl:any/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'pkg:any is satisfied by what an M-A: allowed package provides',
    universe: [P('a', '1', { depends: 'pyabi:any' }), P('py', '3', { multiArch: 'allowed', provides: 'pyabi' })],
    request: ['a'],
    want: ['a=1', 'py=3'],
  },
  {
    name: 'a foreign-architecture package: M-A: foreign satisfies from the native one, other libraries in its own',
    universe: [
      P('a', '1', { architecture: 'i386', depends: 'tool, lib' }),
      P('tool', '1', { multiArch: 'foreign' }),
      P('lib', '1'),
      P('lib', '1', { architecture: 'i386' }),
    ],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: ['a:i386=1', 'lib:i386=1', 'tool=1'],
  },
  {
    name: 'a foreign-architecture package: a native dependency without M-A: foreign does not do',
    universe: [P('a', '1', { architecture: 'i386', depends: 'tool' }), P('tool', '1')],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: { error: /Depends tool/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'a foreign-architecture package: pkg:any from the native architecture',
    universe: [P('a', '1', { architecture: 'i386', depends: 'perl:any' }), P('perl', '5', { multiArch: 'allowed' })],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: ['a:i386=1', 'perl=5'],
  },
  {
    name: 'M-A: same libraries are installed side by side',
    universe: [
      P('a', '1', { architecture: 'i386', depends: 'libx' }),
      P('libx', '2', { multiArch: 'same' }),
      P('libx', '2', { architecture: 'i386', multiArch: 'same' }),
    ],
    installed: [I('libx', '2', { multiArch: 'same' })],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: ['a:i386=1', 'libx:i386=2'],
  },
  {
    name: 'a foreign-architecture package: a virtual package provided by an M-A: foreign one',
    universe: [P('a', '1', { architecture: 'i386', depends: 'mta' }), P('postfix', '3', { multiArch: 'foreign', provides: 'mta' })],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: ['a:i386=1', 'postfix=3'],
  },
  {
    name: 'a foreign-architecture package: an Architecture: all one counts as native',
    universe: [
      P('a', '1', { architecture: 'i386', depends: 'data, tool' }),
      P('data', '1', { architecture: 'all', multiArch: 'foreign' }),
      P('tool', '1', { architecture: 'all' }),
    ],
    request: ['a:i386'],
    architectures: ['amd64', 'i386'],
    want: { error: /Depends tool/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'architecture-qualified dependencies (pkg:i386, pkg:native)',
    universe: [
      P('a', '1', { depends: 'libz:i386' }),
      P('b', '1', { architecture: 'i386', depends: 'tool:native' }),
      P('libz', '1', { architecture: 'i386', multiArch: 'same' }),
      P('libz', '1', { multiArch: 'same' }),
      P('tool', '1'),
      P('tool', '1', { architecture: 'i386' }),
    ],
    request: ['a', 'b:i386'],
    architectures: ['amd64', 'i386'],
    want: ['a=1', 'b:i386=1', 'libz:i386=1', 'tool=1'],
  },
  {
    name: 'M-A: same siblings are kept at one version (the installed one is upgraded)',
    universe: [P('libx', '3', { multiArch: 'same' }), P('libx', '3', { architecture: 'i386', multiArch: 'same' })],
    installed: [I('libx', '2', { multiArch: 'same' })],
    request: ['libx:i386'],
    architectures: ['amd64', 'i386'],
    want: ['libx:i386=3', 'libx=3'],
  },
  {
    name: 'Conflicts of something marked force the second alternative',
    universe: [P('a', '1', { depends: 'x, b | c' }), P('x', '1', { conflicts: 'b' }), P('b', '1'), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=1', 'x=1'],
  },
  {
    name: 'versioned Breaks of something marked force the second alternative',
    universe: [P('a', '1', { depends: 'x, b | c' }), P('x', '1', { breaks: 'b (<< 2)' }), P('b', '1'), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=1', 'x=1'],
  },
  {
    name: "the requested package's own Conflicts rule an alternative out",
    universe: [P('a', '1', { depends: 'b | c', conflicts: 'b' }), P('b', '1'), P('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=1'],
  },
  {
    name: 'Recommends are followed; an unsatisfiable one is skipped',
    universe: [P('a', '1', { recommends: 'r, missing' }), P('r', '1', { depends: 's' }), P('s', '1')],
    request: ['a'],
    want: ['a=1', 'r=1', 's=1'],
  },
  {
    name: 'Recommends are not followed when told not to',
    universe: [P('a', '1', { recommends: 'r, missing' }), P('r', '1', { depends: 's' }), P('s', '1')],
    request: ['a'],
    recommends: false,
    want: ['a=1'],
  },
  {
    name: 'the target status: what is installed satisfies; what is too old is upgraded',
    universe: [P('a', '1', { depends: 'b, c (>= 2)' }), P('b', '2'), P('c', '2')],
    installed: [I('b', '1'), I('c', '1')],
    request: ['a'],
    want: ['a=1', 'c=2'],
  },
  {
    name: 'the target status: an installed version newer than the sources is kept (never a downgrade)',
    universe: [P('a', '1', { depends: 'b' }), P('b', '4')],
    installed: [I('b', '5')],
    request: ['a'],
    want: ['a=1'],
  },
  {
    name: 'the target status: an installed provider satisfies a virtual dependency',
    universe: [P('a', '1', { depends: 'mta' }), P('postfix', '3', { provides: 'mta' })],
    installed: [I('exim', '4', { provides: 'mta' })],
    request: ['a'],
    want: ['a=1'],
  },
  {
    name: 'the target status: a held package is not upgraded',
    universe: [P('a', '1', { depends: 'b (>= 2)' }), P('b', '2')],
    installed: [I('b', '1', { hold: true })],
    request: ['a'],
    want: { error: /a 1 Depends b \(>= 2\).*the target has b 1/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'the target status: a requested package installed at its candidate is not bundled',
    universe: [P('a', '1', { depends: 'b' }), P('b', '1')],
    installed: [I('a', '1', { depends: 'b' }), I('b', '1')],
    request: ['a'],
    want: [],
  },
  {
    name: 'the target status: the other binaries of an upgraded source package are upgraded too',
    universe: [P('a', '1', { depends: 'libfoo1 (>= 2)' }), P('libfoo1', '2', { source: 'foo' }), P('foo-tools', '2', { source: 'foo' })],
    installed: [I('libfoo1', '1', { source: 'foo' }), I('foo-tools', '1', { source: 'foo' })],
    request: ['a'],
    want: ['a=1', 'foo-tools=2', 'libfoo1=2'],
  },
  {
    name: 'the target status: installed packages an upgrade would break are upgraded',
    universe: [P('a', '1', { depends: 'lib (>= 2)' }), P('lib', '2'), P('x', '2', { depends: 'lib (= 2)' })],
    installed: [I('lib', '1'), I('x', '1', { depends: 'lib (= 1)' })],
    request: ['a'],
    want: ['a=1', 'lib=2', 'x=2'],
  },
  {
    name: 'the target status: an installed package the closure conflicts with is upgraded when that helps…',
    universe: [P('a', '1', { depends: 'b' }), P('b', '2', { conflicts: 'y (<< 2)' }), P('y', '2')],
    installed: [I('y', '1')],
    request: ['a'],
    want: ['a=1', 'b=2', 'y=2'],
  },
  {
    name: '…and removed (so not bundled) when it does not',
    universe: [P('a', '1', { depends: 'b' }), P('b', '2', { conflicts: 'y' })],
    installed: [I('y', '1')],
    request: ['a'],
    want: ['a=1', 'b=2'],
  },
  {
    name: 'the target status: upgrading follows new Recommends, not old unsatisfied ones',
    universe: [P('a', '2', { recommends: 'r' }), P('r', '1'), P('b', '2', { recommends: 'r' })],
    installed: [I('a', '1'), I('b', '1', { recommends: 'r' })],
    request: ['a', 'b'],
    want: ['a=2', 'b=2', 'r=1'],
  },
  {
    name: 'name=version picks that version',
    universe: [P('a', '1', { depends: 'b' }), P('a', '2', { depends: 'c' }), P('b', '1'), P('c', '1')],
    request: ['a=1'],
    want: ['a=1', 'b=1'],
  },
  {
    name: 'a requested virtual package with one provider is that provider',
    universe: [P('postfix', '3', { provides: 'mta' })],
    request: ['mta'],
    want: ['postfix=3'],
  },
  {
    name: 'a requested virtual package with several providers is refused',
    universe: [P('postfix', '3', { provides: 'mta' }), P('exim', '4', { provides: 'mta' })],
    request: ['mta'],
    want: { error: /mta is a virtual package provided by exim, postfix/, code: 'NOT_FOUND' },
  },
  {
    name: 'two requests: the second one, requested, satisfies the first',
    universe: [P('a', '1', { depends: 'v' }), P('b', '1', { provides: 'v' }), P('c', '1', { provides: 'v' })],
    request: ['a', 'c'],
    want: ['a=1', 'c=1'],
  },
  { name: 'Architecture: all packages', universe: [P('a', '1', { architecture: 'all', depends: 'b' }), P('b', '1')], request: ['a'], want: ['a=1', 'b=1'] },
  { name: 'dependency cycles', universe: [P('a', '1', { depends: 'b' }), P('b', '1', { depends: 'a' })], request: ['a'], want: ['a=1', 'b=1'] },
  {
    name: 'Pre-Depends are handled before Depends',
    universe: [P('a', '1', { depends: 'v', preDepends: 'w' }), P('p1', '1', { provides: 'v' }), P('p2', '1', { provides: 'v, w' })],
    request: ['a'],
    want: ['a=1', 'p2=1'],
  },
  {
    name: 'an unsatisfiable dependency names the package, what it misses and who needs it',
    universe: [P('top', '1', { depends: 'mid' }), P('mid', '1', { depends: 'gone (>= 2)' })],
    request: ['top'],
    want: { error: /^mid 1 Depends gone \(>= 2\), which no package in the sources satisfies \(needed by: mid ← top\)$/, code: 'UNSATISFIABLE' },
  },
  {
    name: 'a pin whose exact dependency is an older version than the candidate says which pin to add',
    universe: [P('jq', '1', { depends: 'libjq (= 1)' }), P('jq', '2', { depends: 'libjq (= 2)' }), P('libjq', '1'), P('libjq', '2')],
    request: ['jq=1'],
    want: { error: /^jq 1 Depends libjq \(= 1\): the sources have libjq 1, but apt's candidate is 2 \(needed by: jq\)$/, code: 'UNSATISFIABLE' },
  },
];

const fmt = (p: PackageRecord, archs: string[]) =>
  `${p.package}${p.architecture !== 'all' && p.architecture !== archs[0] ? `:${p.architecture}` : ''}=${p.version}`;
const request = (c: Pick<Case, 'request' | 'recommends' | 'architectures'>, exclude: string[] = []): ResolveRequest => ({
  packages: c.request,
  exclude,
  recommends: c.recommends ?? true,
  architectures: c.architectures ?? ['amd64'],
});
function run(c: Case): string[] | ClosureError {
  try {
    return resolveClosure(c.universe, c.installed ?? [], request(c))
      .packages.map((p) => fmt(p, c.architectures ?? ['amd64']))
      .sort();
  } catch (e) {
    if (e instanceof ClosureError) return e;
    throw e;
  }
}

describe('resolveClosure on hand-made universes', () => {
  const real = new Map<string, string[] | { error: string }>();
  beforeAll(async () => {
    if (!APT) return;
    // real apt for every case, a few at a time
    const queue = [...CASES];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          real.set(
            c.name,
            await miniAptPlan(c.universe, c.installed ?? [], c.request, {
              recommends: c.recommends ?? true,
              ...(c.architectures ? { architectures: c.architectures } : {}),
            }),
          );
        }
      }),
    );
  }, 180_000);

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const got = run(c);
    if (Array.isArray(c.want)) expect(got).toEqual(c.want);
    else {
      expect(got).toBeInstanceOf(ClosureError);
      expect((got as ClosureError).code).toBe(c.want.code);
      expect((got as ClosureError).message).toMatch(c.want.error);
    }
    if (APT) {
      const apt = real.get(c.name)!;
      if (Array.isArray(c.want)) expect(apt, 'real apt-get install -s').toEqual(c.want);
      else expect(apt, 'real apt-get install -s refuses too').toHaveProperty('error');
    }
  });

  it("reports an installed package's Breaks against the closure (apt's problem resolver, not reproduced, would upgrade it)", async () => {
    const c: Case = {
      name: 'installed Breaks',
      universe: [P('a', '1', { depends: 'b' }), P('b', '2'), P('y', '2')],
      installed: [I('y', '1', { breaks: 'b (<< 3)' })],
      request: ['a'],
      want: [],
    };
    const err = run(c) as ClosureError;
    expect(err).toBeInstanceOf(ClosureError);
    expect(err).toMatchObject({ code: 'UNSATISFIABLE', package: 'y', missing: 'b (<< 3)', neededBy: ['b', 'a'] });
    expect(err.message).toMatch(
      /^y 1 \(installed on the target\) Breaks b \(<< 3\), which the closure installs \(b 2, needed by: b ← a\); apt would upgrade or remove y/,
    );
    if (APT) expect(await miniAptPlan(c.universe, c.installed ?? [], c.request)).toEqual(['a=1', 'b=2', 'y=2']);
  });
  it('reports the missing dependency and the chain as fields of the error', () => {
    const err = run(CASES.find((c) => c.name.startsWith('an unsatisfiable'))!) as ClosureError;
    expect(err).toMatchObject({ code: 'UNSATISFIABLE', package: 'mid', missing: 'gone (>= 2)', neededBy: ['mid', 'top'] });
  });
  it('refuses unknown packages and versions', () => {
    const u = [P('a', '1'), P('a', '2')];
    expect(() => resolveClosure(u, [], request({ request: ['zz'] }))).toThrow(expect.objectContaining({ code: 'NOT_FOUND', package: 'zz' }));
    expect(() => resolveClosure(u, [], request({ request: ['a=9'] }))).toThrow(/a=9 is not in the sources \(available: 1, 2\)/);
    expect(() => resolveClosure(u, [], request({ request: ['a=9'] }))).toThrow(expect.objectContaining({ code: 'VERSION_NOT_FOUND' }));
    const pinned = [P('jq', '1', { depends: 'libjq (= 1)' }), P('libjq', '1'), P('libjq', '2')];
    expect(() => resolveClosure(pinned, [], request({ request: ['jq=1'] }))).toThrow(
      expect.objectContaining({ hint: 'pin it too: add "libjq=1" to apt.packages' }),
    );
    expect(
      resolveClosure(pinned, [], request({ request: ['jq=1', 'libjq=1'] }))
        .packages.map((p) => `${p.package}=${p.version}`)
        .sort(),
    ).toEqual(['jq=1', 'libjq=1']);
  });
  it('treats excluded packages as installed: not bundled, and what they need is not pulled in', () => {
    const u = [P('a', '1', { depends: 'big (>= 2), virt' }), P('big', '1', { depends: 'huge' }), P('huge', '1'), P('b', '1', { depends: 'a' })];
    expect(resolveClosure(u, [], request({ request: ['b'] }, ['big', 'virt'])).packages.map((p) => p.package)).toEqual(['a', 'b']);
  });
  it('records who pulled each package in and through which field', () => {
    const u = [P('a', '1', { depends: 'b' }), P('b', '1', { recommends: 'c', preDepends: 'd' }), P('c', '1', { architecture: 'all' }), P('d', '1')];
    const r = resolveClosure(u, [], request({ request: ['a'] }));
    expect(Object.fromEntries(r.why)).toEqual({
      'a:amd64': { by: '(requested)', field: 'request' },
      'b:amd64': { by: 'a:amd64', field: 'Depends' },
      'c:all': { by: 'b:amd64', field: 'Recommends' },
      'd:amd64': { by: 'b:amd64', field: 'Pre-Depends' },
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The resolver against real apt on the real mirror: same sources, same target status, same answer.

describe.skipIf(!ISO)(
  ISO ? 'resolveClosure equals apt-get install -s on the Debian mirror' : `resolveClosure vs the Debian mirror: skipped, ${NO_MIRROR}`,
  () => {
    const universe: PackageRecord[] = [];
    let host: InstalledRecord[] = [];
    const plans = new Map<string, Promise<string[]>>();
    const ours = (packages: string[], installed: InstalledRecord[] = []) =>
      resolveClosure(universe, installed, { packages, exclude: [], recommends: true, architectures: ['amd64'] })
        .packages.map((p) => `${p.package}=${p.version}`)
        .sort();

    beforeAll(async () => {
      const iso = ISO!;
      // apt works while the indexes are parsed here
      const hostIso = await aptIsoWithStatus(iso, 'host', await readFile('/var/lib/dpkg/status', 'utf8').catch(() => ''));
      const start = (key: string, conf: AptIso, pkgs: string[]) => {
        const p = aptPlan(conf, pkgs);
        p.catch(() => {});
        plans.set(key, p);
      };
      start('nvidia', iso, ['nvidia-driver', 'nvidia-cuda-toolkit']);
      start('numpy', iso, ['python3-numpy']);
      start('jq', iso, ['jq']);
      start('host', hostIso, ['jq', 'python3-numpy']);
      const t = performance.now();
      for (const f of await aptPackagesFiles(iso)) {
        const origin: IndexRef = { ...ORIGIN, suite: f.suite, component: f.component, indexPath: f.file };
        await readStanzas(createReadStream(f.file), PACKAGE_FIELDS, (s) => {
          const r = toPackageRecord(s, origin);
          if (r) universe.push(r);
        });
      }
      host = await parseStatus(createReadStream('/var/lib/dpkg/status')).catch(() => []);
      console.log(`parsed ${universe.length} stanzas of the mirror's indexes in ${(performance.now() - t).toFixed(0)} ms`);
    }, 120_000);

    it('jq', async () => {
      expect(ours(['jq'])).toEqual(await plans.get('jq')!);
    }, 180_000);
    it('python3-numpy', async () => {
      const got = ours(['python3-numpy']);
      expect(got.length).toBeGreaterThan(50);
      expect(got).toEqual(await plans.get('numpy')!);
    }, 180_000);
    it('nvidia-driver nvidia-cuda-toolkit (contrib, non-free): 562 packages', async () => {
      const t = performance.now();
      const got = ours(['nvidia-driver', 'nvidia-cuda-toolkit']);
      console.log(`resolved nvidia-driver nvidia-cuda-toolkit (${got.length} packages) in ${(performance.now() - t).toFixed(0)} ms`);
      expect(got.length).toBeGreaterThan(500);
      expect(got).toEqual(await plans.get('nvidia')!);
    }, 180_000);
    it("jq python3-numpy with this machine's dpkg status as the target: only what it lacks", async () => {
      const got = ours(['jq', 'python3-numpy'], host);
      expect(got).toEqual(await plans.get('host')!);
      if (host.length) expect(got.length).toBeLessThan(ours(['jq', 'python3-numpy']).length);
    }, 180_000);
  },
);
