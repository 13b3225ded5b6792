import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateMarker, parseMarker, targetEnv, type MarkerEnv } from '../src/sources/pip/markers.js';
import { parseRequirement } from '../src/sources/pip/requirement.js';
import { compareVersions, normalizeName, normalizeVersion, parseVersion, tryParseVersion } from '../src/sources/pip/pep440.js';
import { filterVersions, formatSpecifierSet, mentionsPrerelease, parseSpecifierSet, satisfies } from '../src/sources/pip/specifiers.js';
import { type PipResolveDeps, resolveWheels, type Want } from '../src/sources/pip/resolve.js';
import type { IndexFile } from '../src/sources/pip/simple.js';
import { bestWheel, parseWheelFilename, targetTags } from '../src/sources/pip/tags.js';

// Recorded on the real Ubuntu 24.04 H200 box (shared/design/samples/ubuntu-24.04-h200-box/python-tags.json).
const BOX_TAGS = new URL('./fixtures/ubuntu-24.04-h200.python-tags.json', import.meta.url);

describe('PEP 440 versions', () => {
  // The PEP's "Normalization" section, example by example.
  const normal: [string, string][] = [
    ['1.1RC1', '1.1rc1'],
    ['00', '0'],
    ['09000', '9000'],
    ['1.0+foo0100', '1.0+foo0100'],
    ['1.1.a1', '1.1a1'],
    ['1.1-a1', '1.1a1'],
    ['1.0a.1', '1.0a1'],
    ['1.1alpha1', '1.1a1'],
    ['1.1beta2', '1.1b2'],
    ['1.1c3', '1.1rc3'],
    ['1.1pre4', '1.1rc4'],
    ['1.1preview5', '1.1rc5'],
    ['1.2a', '1.2a0'],
    ['1.2-post2', '1.2.post2'],
    ['1.2post2', '1.2.post2'],
    ['1.2.post-2', '1.2.post2'],
    ['1.0-r4', '1.0.post4'],
    ['1.0-rev4', '1.0.post4'],
    ['1.2.post', '1.2.post0'],
    ['1.0-1', '1.0.post1'],
    ['1.2-dev2', '1.2.dev2'],
    ['1.2dev2', '1.2.dev2'],
    ['1.2.dev', '1.2.dev0'],
    ['1.0+ubuntu-1', '1.0+ubuntu.1'],
    ['1.0+Ubuntu_1.0A', '1.0+ubuntu.1.0a'],
    ['v1.0', '1.0'],
    ['V1.0', '1.0'],
    [' 1.0\n', '1.0'],
    ['1!2.0', '1!2.0'],
    ['0!2.0', '2.0'],
    ['1.0.0-ALPHA_3.post_4-dev.5+cu124', '1.0.0a3.post4.dev5+cu124'],
    ['2.5.1+cu124', '2.5.1+cu124'],
    ['1.0+01', '1.0+1'],
  ];
  it.each(normal)('normalises %j to %s', (raw, want) => expect(normalizeVersion(raw)).toBe(want));

  it('parses into parts', () => {
    expect(parseVersion('1!2.3.4rc5.post6.dev7+abc.8')).toEqual({ epoch: 1, release: [2, 3, 4], pre: ['rc', 5], post: 6, dev: 7, local: ['abc', 8] });
    expect(parseVersion('2.0')).toEqual({ epoch: 0, release: [2, 0] });
  });

  it.each(['', 'a', '1.0-', '1.0+', '1..0', 'a1.0', '1.0-1-1', '1.0+local_', '1.0 1', '1.0+loc al', '1.0.post1-1', '1!', '1.0a1a2', '.1', '1.0+café', 'vv1.0'])(
    'refuses %j',
    (bad) => expect(tryParseVersion(bad)).toBeUndefined(),
  );

  it('refuses numbers it cannot compare exactly rather than rounding them', () => {
    expect(() => parseVersion('1.99999999999999999999')).toThrow(/too large/);
    expect(tryParseVersion('1.99999999999999999999')).toBeUndefined();
    expect(normalizeVersion('2024.9007199254740991')).toBe('2024.9007199254740991');
  });

  it('sorts a long list exactly as PEP 440 orders it', () => {
    // packaging's own ordering fixture (tests/test_version.py), plus CUDA wheel locals.
    const sorted = [
      '1.0.dev456',
      '1.0a1',
      '1.0a2.dev456',
      '1.0a12.dev456',
      '1.0a12',
      '1.0b1.dev456',
      '1.0b2',
      '1.0b2.post345.dev456',
      '1.0b2.post345',
      '1.0b2-346',
      '1.0c1.dev456',
      '1.0c1',
      '1.0rc2',
      '1.0c3',
      '1.0',
      '1.0.post456.dev34',
      '1.0.post456',
      '1.1.dev1',
      '1.2+123abc',
      '1.2+123abc456',
      '1.2+abc',
      '1.2+abc123',
      '1.2+abc123def',
      '1.2+1234.abc',
      '1.2+123456',
      '1.2.r32+123456',
      '1.2.rev33+123456',
      '2.5.0',
      '2.5.1rc1',
      '2.5.1',
      '2.5.1+cpu',
      '2.5.1+cu118',
      '2.5.1+cu121',
      '2.5.1+cu124',
      '2.5.1+cu124.1',
      '2.5.1.post0',
      '2.5.1.post1',
      '2.5.1.1',
      '10.0',
      '1!1.0.dev456',
      '1!1.0a1',
      '1!1.0a2.dev456',
      '1!1.0a12.dev456',
      '1!1.0a12',
      '1!1.0b1.dev456',
      '1!1.0b2',
      '1!1.0b2.post345.dev456',
      '1!1.0b2.post345',
      '1!1.0b2-346',
      '1!1.0c1.dev456',
      '1!1.0c1',
      '1!1.0rc2',
      '1!1.0c3',
      '1!1.0',
      '1!1.0.post456.dev34',
      '1!1.0.post456',
      '1!1.1.dev1',
      '1!1.2+123abc',
      '1!1.2+abc',
      '1!1.2+1234.abc',
      '1!1.2.r32+123456',
    ];
    const got = sorted.flatMap((a) => sorted.map((b) => `${a} ${'<=>'[Math.sign(compareVersions(a, b)) + 1]} ${b}`));
    const want = sorted.flatMap((a, i) => sorted.map((b, j) => `${a} ${'<=>'[Math.sign(i - j) + 1]} ${b}`));
    expect(got).toEqual(want);
    expect([...sorted].reverse().sort(compareVersions)).toEqual(sorted);
    expect(compareVersions('1.0', '1.0.0.0')).toBe(0);
    expect(compareVersions('1.0', 'v1.0.0')).toBe(0);
    expect(compareVersions('1.0+local', '1.0+LOCAL')).toBe(0);
  });
});

describe('PEP 440 specifiers', () => {
  const yes = (v: string, s: string, prereleases?: boolean) =>
    expect([v, s, satisfies(v, s, prereleases === undefined ? {} : { prereleases })]).toEqual([v, s, true]);
  const no = (v: string, s: string, prereleases?: boolean) =>
    expect([v, s, satisfies(v, s, prereleases === undefined ? {} : { prereleases })]).toEqual([v, s, false]);

  it('parses sets, keeping the operand as written', () => {
    expect(parseSpecifierSet('~=1.4.2, !=1.4.5, <2')).toEqual([
      { op: '~=', version: '1.4.2', wildcard: false, parsed: { epoch: 0, release: [1, 4, 2] } },
      { op: '!=', version: '1.4.5', wildcard: false, parsed: { epoch: 0, release: [1, 4, 5] } },
      { op: '<', version: '2', wildcard: false, parsed: { epoch: 0, release: [2] } },
    ]);
    expect(parseSpecifierSet('')).toEqual([]);
    expect(formatSpecifierSet(parseSpecifierSet(' == 1.* ,>=1.0rc1 ,===foo'))).toBe('==1.*,>=1.0rc1,===foo');
  });

  it.each(['~=1', '~=1.0.*', '>=1.0+local', '<1.*', '==1.0a1.*', '=1.0', '>=1.0 1', '>=', '1.0', '==1.0+', '!=1.*.1', '===a b', '>=1,<2;'])(
    'refuses %j',
    (bad) => expect(() => parseSpecifierSet(bad)).toThrow(/Invalid specifier/),
  );

  it('implements compatible release (~=)', () => {
    yes('2.3', '~=2.2');
    no('3.0', '~=2.2');
    yes('1.4.9', '~=1.4.5');
    no('1.5', '~=1.4.5');
    no('1.4.4', '~=1.4.5');
    yes('2.3', '~=2.2.post3');
    no('2.2.post2', '~=2.2.post3');
    yes('1.4.5', '~=1.4.5a4');
    yes('1.4.5b1', '~=1.4.5a4');
    no('1.5.0', '~=1.4.5a4');
    yes('1!2.9', '~=1!2.0');
    no('2.9', '~=1!2.0');
  });

  it('implements prefix matching with .*', () => {
    yes('1.1.post1', '==1.1.*');
    yes('1.1', '==1.1.*');
    yes('1.1.0.5', '==1.1.*');
    yes('1', '==1.0.*');
    yes('1.1a1', '==1.1.*', true);
    no('1.10', '==1.1.*');
    no('1.2', '==1.1.*');
    yes('2.5.1+cu124', '==2.5.*');
    no('2.5.1+cu124', '!=2.5.*');
    yes('2.6', '!=2.5.*');
    yes('1.0a1', '==1.0.0.*', true);
  });

  it('ignores local labels except for == and != with a local operand', () => {
    yes('2.5.1+cu124', '==2.5.1');
    yes('2.5.1+cu124', '==2.5.1+cu124');
    no('2.5.1', '==2.5.1+cu124');
    no('2.5.1+cu121', '==2.5.1+cu124');
    no('2.5.1+cu124', '!=2.5.1');
    yes('2.5.1+cu121', '!=2.5.1+cu124');
    yes('2.5.1+cu124', '>=2.5.1');
    yes('2.5.1+cu124', '<=2.5.1');
    no('2.5.1+cu124', '>2.5.1');
    no('2.5.1+cu124', '<2.5.1');
    yes('2.5.2+cu124', '>2.5.1');
    yes('2.5.1+cu124', '>=2.5,<2.6');
  });

  it('applies the exclusive ordered comparison rules', () => {
    no('2.0rc1', '<2.0', true); // <V excludes V's pre-releases...
    no('2.0.dev1', '<2.0', true);
    yes('1.9', '<2.0');
    yes('2.0a1', '<2.0rc1'); // ...unless V is itself a pre-release (which also opts in)
    no('1.7.post1', '>1.7'); // >V excludes V's post-releases...
    yes('1.7.1', '>1.7');
    yes('1.7.post3', '>1.7.post2'); // ...unless V is itself a post-release
    no('1.7.post2+local', '>1.7.post2');
    yes('1.0.post1', '>1.0a1');
  });

  it('handles pre-releases: excluded unless named or allowed; the fallback needs the candidate list', () => {
    no('2.0b1', '>=1.0');
    yes('2.0b1', '>=1.0', true);
    yes('2.0b1', '>=1.0b1'); // the set names a pre-release
    no('2.0b1', '>=1.0b1', false);
    no('1.0.dev1', '');
    yes('1.0.dev1', '', true);
    no('2.0b1', '>=1.0,!=2.0b2'); // != does not opt in
    expect(mentionsPrerelease(parseSpecifierSet('<2.0rc1'))).toBe(true);
    expect(mentionsPrerelease(parseSpecifierSet('!=2.0rc1,==2.*'))).toBe(false);
    expect(filterVersions(['0.9', '1.0', '2.0b1'], '>=1.0')).toEqual(['1.0']);
    expect(filterVersions(['0.9', '2.0b1', '2.0rc1'], '>=1.0')).toEqual(['2.0b1', '2.0rc1']);
    expect(filterVersions(['0.9', '2.0b1', '2.0rc1'], '>=1.0', { prereleases: false })).toEqual([]);
    expect(filterVersions(['1.0', '2.0b1'], '>=1.0b1')).toEqual(['1.0', '2.0b1']);
    expect(filterVersions([{ v: '1.0' }, { v: '1.1' }], '>1.0', { key: (x) => x.v })).toEqual([{ v: '1.1' }]);
  });

  it('treats === as a case-insensitive string match', () => {
    yes('1.0', '===1.0');
    no('1.0.0', '===1.0');
    yes('foobar', '===FooBar');
    no('foobar', '>=1.0');
  });

  it('normalises project names per PEP 503', () => {
    expect(normalizeName('Foo.Bar__baz--Qux')).toBe('foo-bar-baz-qux');
    expect(normalizeName('nvidia_cublas_cu12')).toBe('nvidia-cublas-cu12');
  });
});

describe('PEP 508 markers and requirements', () => {
  const linux = targetEnv({ python: '3.12.3', platform: 'linux', machine: 'x86_64' });

  it('builds a full Linux CPython environment', () => {
    expect(targetEnv({ python: '3.12', platform: 'linux', machine: 'x86_64' })).toEqual({
      python_version: '3.12',
      python_full_version: '3.12.0',
      os_name: 'posix',
      sys_platform: 'linux',
      platform_release: '',
      platform_system: 'Linux',
      platform_version: '',
      platform_machine: 'x86_64',
      platform_python_implementation: 'CPython',
      implementation_name: 'cpython',
      implementation_version: '3.12.0',
    });
  });

  it('evaluates comparisons, in/not in, and/or precedence and parentheses', () => {
    const gpu = { ...linux, extra: 'gpu' };
    expect(evaluateMarker('python_version < "3.10"', linux)).toBe(false);
    expect(evaluateMarker('python_version > "3.9"', linux)).toBe(true); // as versions: 3.12 > 3.9
    expect(evaluateMarker('sys_platform == "win32"', linux)).toBe(false);
    expect(evaluateMarker('extra == "gpu"', linux)).toBe(false);
    expect(evaluateMarker('extra == "gpu"', gpu)).toBe(true);
    expect(evaluateMarker('extra == "GPU_"', { ...linux, extra: 'gpu-' })).toBe(true); // PEP 685
    expect(evaluateMarker('sys_platform == "win32" or python_version >= "3.8" and extra == "gpu"', gpu)).toBe(true);
    expect(evaluateMarker('(sys_platform == "win32" or python_version >= "3.8") and extra == "gpu"', linux)).toBe(false);
    expect(evaluateMarker("platform_machine in 'x86_64 aarch64' and 'linux' in sys_platform", linux)).toBe(true);
    expect(evaluateMarker('platform_machine not in "arm64 aarch64"', linux)).toBe(true);
    expect(evaluateMarker('os.name == "posix" and python_implementation == "CPython"', linux)).toBe(true);
    expect(evaluateMarker('python_full_version < "3.13"', { ...linux, python_full_version: '3.13.0rc1' })).toBe(false);
    expect(evaluateMarker('python_version == "3.*"', linux)).toBe(true);
    // Not versions on both sides: Python string comparison.
    expect(evaluateMarker('platform_release >= "5.0"', { ...linux, platform_release: '6.8.0-45-generic' })).toBe(true);
    expect(evaluateMarker('os_name < "posiy"', linux)).toBe(true);
    expect(() => evaluateMarker('os_name ~= "posix"', linux)).toThrow(/Undefined/);
  });

  it.each([
    'python_version',
    'python_version <',
    'python_version < "3" and',
    '(python_version < "3"',
    'python_version < 3',
    'foo == "x"',
    'python_version notin "3"',
    'extras == "a"',
  ])('refuses the marker %j', (bad) => expect(() => parseMarker(bad)).toThrow(/Invalid marker/));

  it('parses requirement strings from Requires-Dist', () => {
    expect(parseRequirement('Requests[security, socks] (>=2.8.1, ==2.8.*) ; python_version < "2.7"')).toMatchObject({
      name: 'Requests',
      normalizedName: 'requests',
      extras: ['security', 'socks'],
      specifier: '>=2.8.1,==2.8.*',
      marker: 'python_version < "2.7"',
    });
    const torch = parseRequirement('torch==2.5.1+cu124');
    expect(torch).toMatchObject({ name: 'torch', extras: [], specifier: '==2.5.1+cu124' });
    expect(torch.marker).toBeUndefined();
    const nv = parseRequirement('nvidia-cublas-cu12==12.4.5.8; platform_system == "Linux" and platform_machine == "x86_64"');
    expect(evaluateMarker(nv.markerTree!, linux)).toBe(true);
    expect(parseRequirement('foo @ https://example.com/foo-1.0-py3-none-any.whl ; extra == "gpu"')).toMatchObject({
      name: 'foo',
      url: 'https://example.com/foo-1.0-py3-none-any.whl',
      specifier: '',
      marker: 'extra == "gpu"',
    });
    expect(parseRequirement('name')).toMatchObject({ name: 'name', extras: [], specifiers: [] });
  });

  it.each(['name >= 1.0 <2', 'name[', 'name (>=1.0', '-name', 'name ; ', 'name >=1.0 ;', 'name @', 'name[a b]', 'name ~= 1'])(
    'refuses the requirement %j',
    (bad) => expect(() => parseRequirement(bad)).toThrow(/Invalid requirement/),
  );
});

describe('wheel names and tags', () => {
  const box = targetTags({ python: '3.12', implementation: 'cp', abi: 'cp312', glibc: '2.39', arch: 'x86_64' });

  it('parses wheel file names with compressed tag sets and build tags', () => {
    expect(parseWheelFilename('six-1.16.0-py2.py3-none-any.whl')).toMatchObject({ name: 'six', version: '1.16.0', tags: ['py2-none-any', 'py3-none-any'] });
    expect(parseWheelFilename('numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')).toMatchObject({
      name: 'numpy',
      version: '2.1.3',
      pythonTags: ['cp312'],
      abiTags: ['cp312'],
      platformTags: ['manylinux_2_17_x86_64', 'manylinux2014_x86_64'],
      tags: ['cp312-cp312-manylinux_2_17_x86_64', 'cp312-cp312-manylinux2014_x86_64'],
    });
    expect(parseWheelFilename('Foo_Bar-1.0-1build-py3-none-any.whl')).toMatchObject({
      distribution: 'Foo_Bar',
      name: 'foo-bar',
      build: { number: 1, suffix: 'build' },
    });
    expect(parseWheelFilename('torch-2.5.1+cu124-cp312-cp312-linux_x86_64.whl').version).toBe('2.5.1+cu124');
  });

  it.each([
    'pkg-1.0-py3-none-any.zip',
    'pkg-1.0-py3-none.whl',
    'pkg-1.0-x-py3-none-any.whl',
    'pkg-notaversion-py3-none-any.whl',
    'pkg__x-1.0-py3-none-any.whl',
    'a-b-c-1.0-py3-none-any.whl',
    'pkg-1.0-py3..-none-any.whl',
  ])('refuses the wheel name %j', (bad) => expect(() => parseWheelFilename(bad)).toThrow(/Invalid wheel filename/));

  it("starts with exactly the Ubuntu 24.04 box's 40 most preferred tags", () => {
    const real = JSON.parse(readFileSync(BOX_TAGS, 'utf8')) as string[];
    expect(real).toHaveLength(40);
    expect(box.slice(0, 40)).toEqual(real);
  });

  it('lists abi3, none and the pure-Python tags in packaging order', () => {
    const at = (t: string) => box.indexOf(t);
    expect(box[at('cp312-abi3-manylinux1_x86_64') + 1]).toBe('cp312-none-linux_x86_64');
    expect(box[at('cp312-none-manylinux1_x86_64') + 1]).toBe('cp311-abi3-linux_x86_64');
    expect(box[at('cp32-abi3-manylinux1_x86_64') + 1]).toBe('py312-none-linux_x86_64');
    expect(box.slice(-16)).toEqual([
      'py30-none-manylinux1_x86_64',
      'cp312-none-any',
      'py312-none-any',
      'py3-none-any',
      ...Array.from({ length: 12 }, (_, i) => `py3${11 - i}-none-any`),
    ]);
    expect(new Set(box).size).toBe(box.length);
    expect(box).not.toContain('cp312-cp312-manylinux_2_40_x86_64');
    // packaging before 26.3 (pip's vendored copy) puts the native linux_ tag last.
    const legacy = targetTags({ python: '3.12', glibc: '2.39', arch: 'x86_64', nativeLinuxFirst: false });
    expect(legacy.slice(0, 2)).toEqual(['cp312-cp312-manylinux_2_39_x86_64', 'cp312-cp312-manylinux_2_38_x86_64']);
    expect(legacy[legacy.indexOf('cp312-cp312-manylinux1_x86_64') + 1]).toBe('cp312-cp312-linux_x86_64');
    // aarch64 manylinux starts at glibc 2.17.
    expect(
      targetTags({ python: '3.12', glibc: '2.39', arch: 'aarch64' })
        .filter((t) => t.startsWith('cp312-cp312-'))
        .slice(-3),
    ).toEqual(['cp312-cp312-manylinux_2_18_aarch64', 'cp312-cp312-manylinux_2_17_aarch64', 'cp312-cp312-manylinux2014_aarch64']);
  });

  it('picks the best wheel, and refuses incompatible ones', () => {
    const files = [
      'x-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      'x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl',
      'x-1.0-cp312-cp312-win_amd64.whl',
      'x-1.0-cp312-cp312-macosx_11_0_arm64.whl',
      'x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl',
      'x-1.0-cp312-cp312-manylinux_2_40_x86_64.whl',
      'x-1.0-py3-none-any.whl',
    ];
    expect(bestWheel(files, box)).toBe('x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl');
    expect(
      bestWheel(
        files.filter((f) => !f.includes('2_28_x86_64.whl')),
        box,
      ),
    ).toBe('x-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl');
    expect(
      bestWheel(['x-1.0-cp312-cp312-win_amd64.whl', 'x-1.0-cp312-cp312-macosx_11_0_arm64.whl', 'x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl', 'junk.whl'], box),
    ).toBeUndefined();
    expect(bestWheel(['x-1.0-py3-none-any.whl', 'x-1.0-cp39-abi3-manylinux_2_17_x86_64.whl'], box)).toBe('x-1.0-cp39-abi3-manylinux_2_17_x86_64.whl');
    expect(bestWheel(['x-1.0-1-py3-none-any.whl', 'x-1.0-2-py3-none-any.whl', 'x-1.0-py3-none-any.whl'], box)).toBe('x-1.0-2-py3-none-any.whl');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Cross-checks against the real pypa/packaging, in one Python process.

/** Deterministic PRNG (mulberry32), so the generated cases are the same on every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(440);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const BASES = ['0.9', '1', '1.0', '1.0.0', '1.0.1', '1.1', '1.4.2', '1.4.5', '2.0', '2.5.1', '1!1.0'];
const SUFFIXES = ['', '', '', 'a1', 'b2', 'rc1', '.dev0', '.dev3', '.post1', '.post2', '.post1.dev1', 'a1.dev1', 'rc1.post1'];
const LOCALS = ['', '', '', '+cu124', '+cpu', '+local.1'];
const VERSION_POOL = [...new Set(Array.from({ length: 90 }, () => pick(BASES) + pick(SUFFIXES) + pick(LOCALS)))];

function genClause(): string {
  const op = pick(['==', '!=', '<=', '>=', '<', '>', '~=', '==', '!='] as const);
  let base = pick(BASES);
  if (op === '~=' && !base.includes('.')) base += '.0';
  if ((op === '==' || op === '!=') && rand() < 0.35) return `${op}${base}.*`;
  const local = op === '==' || op === '!=' ? pick(LOCALS) : '';
  return `${op}${base}${pick(SUFFIXES)}${local}`;
}
const SPEC_POOL = [...new Set(Array.from({ length: 160 }, () => Array.from({ length: 1 + Math.floor(rand() * 3) }, genClause).join(', ')))];

// Spellings to normalise: every pool version re-spelled, and malformed ones.
function respell(v: string): string {
  return v
    .replace(/a(\d)/, (_, n) => pick([`a${n}`, `.alpha${n}`, `-A.${n}`]))
    .replace(/rc(\d)/, (_, n) => pick([`rc${n}`, `c${n}`, `_pre${n}`, `.preview-${n}`]))
    .replace(/\.post(\d)/, (_, n) => pick([`.post${n}`, `-${n}`, `-r${n}`, `_rev.${n}`, `POST${n}`]))
    .replace(/\.dev(\d)/, (_, n) => pick([`.dev${n}`, `-DEV${n}`, `dev_${n}`]))
    .replace(/\+(.*)/, (_, l: string) => `+${l.replace('.', pick(['-', '_', '.'])).toUpperCase()}`);
}
const SPELLINGS = [
  ...VERSION_POOL.map(respell),
  ...VERSION_POOL.map((v) => `v${respell(v)}`),
  '1.0-',
  '1..0',
  '1.0+',
  '1.0.post1-1',
  '1.0-1.dev2',
  '1.0a.b',
  '1.0-pre',
  '1.0.r',
  'rc1',
  '1.0 .post1',
];

const MARKERS = [
  'python_version < "3.10"',
  'python_version >= "3.8"',
  'python_version == "3.12"',
  'python_version == "3.1"',
  'python_version > "3.9"',
  'python_full_version >= "3.12.1"',
  'python_full_version < "3.12.3"',
  'python_version ~= "3.10"',
  'python_version == "3.*"',
  'python_version != "3.12.*"',
  '"3.9" < python_version',
  'sys_platform == "win32"',
  'sys_platform != "win32"',
  'sys_platform == "linux"',
  'os_name == "nt"',
  'os.name == "posix"',
  'platform_system == "Linux"',
  'platform_machine == "x86_64"',
  'platform_machine in "x86_64 aarch64"',
  'platform_machine not in "arm64 aarch64"',
  '"linux" in sys_platform',
  'platform_python_implementation == "CPython"',
  'python_implementation == "CPython"',
  'implementation_name == "cpython"',
  'implementation_version >= "3.12"',
  'platform_release >= "5.0"',
  'extra == "gpu"',
  'extra == "cpu"',
  'extra != "gpu"',
  'python_version >= "3.9" and (sys_platform == "linux" or sys_platform == "darwin")',
  'sys_platform == "win32" or python_version < "3.10" and extra == "gpu"',
  '(sys_platform == "win32" or extra == "gpu") and platform_machine == "x86_64"',
  '((python_version < "3.13"))',
  "python_version<'3.11'and extra=='gpu'",
  'platform_machine == "x86_64" and platform_python_implementation != "PyPy" or extra == "all"',
  'python_version >= "3.9" and python_version < "3.13" and sys_platform != "darwin" and extra == "cpu"',
];
const ENVS: MarkerEnv[] = [
  { ...targetEnv({ python: '3.12.3', platform: 'linux', machine: 'x86_64', release: '6.8.0', kernelVersion: '#1 SMP' }), extra: '' },
  { ...targetEnv({ python: '3.9.18', platform: 'linux', machine: 'aarch64', release: '5.15.0', kernelVersion: '#1 SMP' }), extra: 'gpu' },
  { ...targetEnv({ python: '3.11.7', platform: 'win32', machine: 'AMD64', release: '10', kernelVersion: '10.0.19045' }), extra: 'cpu' },
  { ...targetEnv({ python: '3.13.0', platform: 'darwin', machine: 'arm64', release: '24.1.0', kernelVersion: 'Darwin Kernel' }), extra: 'all' },
];

const REQUIREMENTS = [
  'torch==2.5.1+cu124',
  'numpy>=1.22,<2.0; python_version >= "3.9"',
  'Requests[security, socks] (>=2.8.1,==2.8.*) ; python_version < "2.7"',
  'nvidia-cublas-cu12==12.4.5.8; platform_system == "Linux" and platform_machine == "x86_64"',
  'typing-extensions>=4.8.0',
  'foo @ https://example.com/foo-1.0-py3-none-any.whl ; extra == "gpu"',
  'foo@ git+https://github.com/x/y@main',
  'name',
  'name [ a , b ] ~= 1.4 ; os_name=="posix"',
  'triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64" and python_version < "3.13"',
  'A.B-C_D >= 1',
  'fsspec[http]>=2023.1.0; extra == "hf"',
  'name>=1.0;python_version<"3"',
  'x (==1.*)',
];

const WHEELS = [
  'torch-2.5.1+cu124-cp312-cp312-linux_x86_64.whl',
  'numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
  'six-1.16.0-py2.py3-none-any.whl',
  'Foo_Bar-1.0-1build-py3-none-any.whl',
  'nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl',
  'tokenizers-0.20.3-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
  'PyYAML-6.0.2-cp312-cp312-win_amd64.whl',
  'pkg-1.0-py3-none.whl',
  'pkg-1.0-x-py3-none-any.whl',
  'pkg-notaversion-py3-none-any.whl',
  'pkg__x-1.0-py3-none-any.whl',
];

const PY = String.raw`
import json, sys
inp = json.load(sys.stdin)
try:
    import packaging
    if int(packaging.__version__.split('.')[0]) < 26:
        raise ImportError
    from packaging.version import Version
    from packaging.specifiers import SpecifierSet
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import parse_wheel_filename
    from packaging import tags, _manylinux
    engine = 'packaging'
except ImportError:
    from pip._vendor import packaging
    from pip._vendor.packaging.version import Version
    from pip._vendor.packaging.specifiers import SpecifierSet
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import parse_wheel_filename
    from pip._vendor.packaging import tags, _manylinux
    engine = 'pip._vendor.packaging'
out = {'engine': engine + ' ' + packaging.__version__, 'major': int(packaging.__version__.split('.')[0])}

def norm(s):
    try: return str(Version(s))
    except Exception: return None
out['norm'] = [norm(s) for s in inp['spellings']]
vs = [Version(v) for v in inp['versions']]
out['cmp'] = [[(a > b) - (a < b) for b in vs] for a in vs]
out['specs'] = []
for s in inp['specs']:
    ss = SpecifierSet(s)
    out['specs'].append({
        'pre': bool(ss.prereleases),
        'yes': ''.join('1' if ss.contains(v, prereleases=True) else '0' for v in inp['versions']),
        'no': ''.join('1' if ss.contains(v, prereleases=False) else '0' for v in inp['versions']),
        'filter': list(ss.filter(inp['versions'])),
    })
out['markers'] = []
for m in inp['markers']:
    row = []
    for env in inp['envs']:
        try: row.append(Marker(m).evaluate(env))
        except Exception as e: row.append(type(e).__name__)
    out['markers'].append(row)
out['reqs'] = []
for r in inp['reqs']:
    q = Requirement(r)
    out['reqs'].append({'name': q.name, 'extras': sorted(q.extras), 'specs': sorted(str(s) for s in q.specifier), 'url': q.url,
                        'marker': [q.marker.evaluate(env) for env in inp['envs']] if q.marker else None})
out['wheels'] = []
for w in inp['wheels']:
    try:
        name, ver, build, ts = parse_wheel_filename(w)
        out['wheels'].append({'name': name, 'version': str(ver), 'build': list(build), 'tags': sorted(str(t) for t in ts)})
    except Exception as e:
        out['wheels'].append(None)
_manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(2, 39)
try: many = list(_manylinux.platform_tags(['x86_64']))
except TypeError: many = list(_manylinux.platform_tags('linux_x86_64', 'x86_64'))
plats = ['linux_x86_64'] + many
out['tags'] = [str(t) for t in tags.cpython_tags((3, 12), ['cp312'], plats)] + [str(t) for t in tags.compatible_tags((3, 12), 'cp312', plats)]
print(json.dumps(out))
`;

interface PyOut {
  engine: string;
  major: number;
  norm: (string | null)[];
  cmp: number[][];
  specs: { pre: boolean; yes: string; no: string; filter: string[] }[];
  markers: (boolean | string)[][];
  reqs: { name: string; extras: string[]; specs: string[]; url: string | null; marker: boolean[] | null }[];
  wheels: ({ name: string; version: string; build: [number, string] | []; tags: string[] } | null)[];
  tags: string[];
}

describe('cross-checked against pypa/packaging', () => {
  let py: PyOut;
  beforeAll(() => {
    const input = { spellings: SPELLINGS, versions: VERSION_POOL, specs: SPEC_POOL, markers: MARKERS, envs: ENVS, reqs: REQUIREMENTS, wheels: WHEELS };
    py = JSON.parse(execFileSync('python3', ['-c', PY], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20 })) as PyOut;
    console.log(`pip-core cross-check: ${py.engine}, ${VERSION_POOL.length} versions x ${SPEC_POOL.length} specifier sets`);
  });

  it('normalises the same spellings to the same versions, and refuses the same ones', () => {
    expect(SPELLINGS.map((s) => [s, tryParseVersion(s) ? normalizeVersion(s) : null])).toEqual(SPELLINGS.map((s, i) => [s, py.norm[i]]));
  });

  it('orders every pair of versions the same way', () => {
    const mine = VERSION_POOL.map((a) => VERSION_POOL.map((b) => Math.sign(compareVersions(a, b))));
    expect(mine).toEqual(py.cmp);
  });

  it('matches every version against every specifier set the same way', () => {
    // pip's vendored packaging (< 26) differs in corner cases that packaging 26 settled (prefix matching of
    // short pre-releases, <V.postN, >V for pre-release V): with it, only compare the clauses both agree on.
    const legacySafe = (s: string) => py.major >= 26 || s.split(',').every((c) => /^\s*(>=|<=|==|!=)/.test(c) && !c.includes('*'));
    let checked = 0;
    SPEC_POOL.forEach((s, i) => {
      if (!legacySafe(s)) return;
      const set = parseSpecifierSet(s);
      const want = py.specs[i]!;
      const yes = VERSION_POOL.map((v) => (satisfies(v, set, { prereleases: true }) ? '1' : '0')).join('');
      const no = VERSION_POOL.map((v) => (satisfies(v, set, { prereleases: false }) ? '1' : '0')).join('');
      expect({ s, yes, no, pre: mentionsPrerelease(set) }).toEqual({ s, yes: want.yes, no: want.no, pre: want.pre });
      if (py.major >= 26) expect({ s, filter: filterVersions(VERSION_POOL, set) }).toEqual({ s, filter: want.filter });
      checked += VERSION_POOL.length;
    });
    expect(checked).toBeGreaterThan(300);
  });

  it('evaluates every marker in every environment the same way', () => {
    const mine = MARKERS.map((m) => ENVS.map((env) => evaluateMarker(m, env)));
    expect(MARKERS.map((m, i) => [m, mine[i]])).toEqual(MARKERS.map((m, i) => [m, py.markers[i]]));
  });

  it('parses requirements the same way', () => {
    const mine = REQUIREMENTS.map((r) => {
      const q = parseRequirement(r);
      return {
        name: q.name,
        extras: [...q.extras].sort(),
        specs: q.specifiers.map((s) => `${s.op}${s.version}${s.wildcard ? '.*' : ''}`).sort(),
        url: q.url ?? null,
        marker: q.markerTree ? ENVS.map((env) => evaluateMarker(q.markerTree!, env)) : null,
      };
    });
    expect(mine).toEqual(py.reqs);
  });

  it('parses wheel names the same way', () => {
    const mine = WHEELS.map((w) => {
      try {
        const p = parseWheelFilename(w);
        return { name: p.name, version: p.version, build: p.build ? [p.build.number, p.build.suffix] : [], tags: [...p.tags].sort() };
      } catch {
        return null;
      }
    });
    expect(mine).toEqual(py.wheels);
  });

  it('lists the same supported tags in the same order for CPython 3.12 on glibc 2.39 x86_64', () => {
    expect(targetTags({ python: '3.12', glibc: '2.39', arch: 'x86_64' })).toEqual(py.tags);
  });
});

describe('resolveWheels conflicts', () => {
  const file = (filename: string): IndexFile => ({ filename, url: `http://x/${filename}`, yanked: false, metadata: false, index: 'x' });
  const files: Record<string, IndexFile[]> = {
    app: [file('app-1.0-py3-none-any.whl')],
    lib: [file('lib-1.0-py3-none-any.whl'), file('lib-2.0-py3-none-any.whl')],
  };
  const deps: PipResolveDeps = {
    list: async (p) => files[p] ?? [],
    metadata: async (f) =>
      f.filename.startsWith('app')
        ? 'Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: lib<2\n'
        : 'Metadata-Version: 2.1\nName: lib\nVersion: 2.0\n',
    env: targetEnv({ python: '3.12' }),
    tags: ['py3-none-any'],
    python: '3.12',
  };
  const want = (name: string, specifier = ''): Want => ({ name, extras: [], specifier, hashes: [], chain: [] });

  it('names both requirers; a top-level requirement is the manifest, not a blank', async () => {
    await expect(resolveWheels([want('lib'), want('app')], deps)).rejects.toThrow(
      'lib: app==1.0 needs lib<2, but 2.0 was chosen for the manifest (pip.packages)',
    );
    await expect(resolveWheels([want('lib', '==2.0'), want('lib', '<2')], deps)).rejects.toThrow(
      'lib: the manifest (pip.packages) needs lib<2, but 2.0 was chosen for the manifest (pip.packages)',
    );
  });
});
