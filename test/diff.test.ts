import { createHash } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BundleIndex } from '../src/bundle/index.js';
import { changelogMarkdown, diffText } from '../src/report/changelog.js';
import { identityOf } from '../src/report/components.js';
import { suggestedBump } from '../src/report/bump.js';
import { type BundleDiff, diffBundles, versionOrder } from '../src/report/diff.js';
import type { Locked } from '../src/sources/source.js';
import type { Digest } from '../src/store/digest.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { debianMirror } from './helpers/apt-iso.js';
import { tempDir } from './helpers/tmp.js';

const digest = (s: string): Digest => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function apt(name: string, version: string, o: { arch?: string; distro?: string; bytes?: string; size?: number } = {}): Locked {
  const arch = o.arch ?? 'amd64';
  return {
    kind: 'apt',
    id: `apt:${name}@${version}:${arch}`,
    name,
    version,
    digest: digest(o.bytes ?? `${name}_${version}_${arch}`),
    size: o.size ?? 1000,
    url: `http://deb.example/${name}.deb`,
    purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=${o.distro ?? 'bookworm'}`,
    provenance: { kind: 'signed-index', index: 'x', indexDigest: digest('release'), signer: 'ABCD' },
  };
}

function pip(name: string, version: string, size = 2000): Locked {
  return {
    kind: 'pip',
    id: `pip:${name}@${version}`,
    name,
    version,
    digest: digest(`${name}-${version}`),
    size,
    url: `https://pypi.example/${name}-${version}.whl`,
    purl: `pkg:pypi/${name.toLowerCase()}@${version}?file_name=${name}-${version}-py3-none-any.whl`,
    provenance: { kind: 'index-hash', index: 'https://pypi.example/simple' },
  };
}

function file(name: string, version: string, bytes: string, install?: { dest: string; mode: string }): Locked {
  return {
    ...(install ? { meta: { ...install } } : {}),
    kind: 'file',
    id: `file:${name}`,
    name,
    version,
    digest: digest(bytes),
    size: bytes.length,
    url: 'file:///x',
    purl: `pkg:generic/${name}@${version}?checksum=${digest(bytes)}`,
    provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
  };
}

function hf(repo: string, commit: string, files: Record<string, string>): Locked[] {
  const [ns, name] = repo.split('/') as [string, string];
  return Object.entries(files).map(([path, bytes]) => ({
    kind: 'hf',
    id: `hf:${repo}@${commit}/${path}`,
    name: `${repo}/${path}`,
    version: commit,
    digest: digest(bytes),
    size: bytes.length,
    url: `https://hub.example/${repo}/${path}`,
    purl: `pkg:huggingface/${ns}/${name}@${commit}`,
    provenance: { kind: 'index-hash', index: 'https://hub.example' },
    meta: { repo, commit, path, revision: 'main', type: 'model', gitOid: '0'.repeat(40) },
  }));
}

function index(version: string, artifacts: Locked[], target: Partial<BundleIndex['target']> = {}): BundleIndex {
  return {
    schema: 'vault-bundle/v1',
    name: 'gpu',
    version,
    created: `2026-11-${version === '1.0.0' ? '01' : '30'}T00:00:00.000Z`,
    tool: { name: 'vault-bundle', version: '0.1.0' },
    manifest: { path: 'gpu.yaml', inputsDigest: digest('m') },
    target: { os: 'ubuntu-24.04', arch: 'amd64', python: '3.12', ...target },
    artifacts,
  };
}

const side = (ix: BundleIndex) => ({ location: `/b/${ix.version}`, index: ix, indexSha256: createHash('sha256').update(JSON.stringify(ix)).digest('hex') });
const diff = (a: BundleIndex, b: BundleIndex): BundleDiff => diffBundles(side(a), side(b));
const names = (l: { name: string; from?: string; to?: string }[]) => l.map((e) => `${e.name} ${e.from ?? ''}→${e.to ?? ''}`);

describe('diff on synthetic indexes', () => {
  it('every category: added, removed, upgraded, downgraded, changed, same version with other bytes, unchanged', () => {
    const old = index('1.0.0', [
      apt('jq', '1.6-2.1', { distro: 'bookworm' }),
      apt('libc6', '2.36-9'),
      apt('libc6', '2.36-9', { arch: 'i386' }), // another architecture: another package
      apt('tool', '1:0.9-1'), // epoch: 1:0.9 is newer than 2.0
      apt('rebuilt', '1.0-1', { bytes: 'first build' }),
      apt('gone', '1.0'),
      pip('numpy', '2.0.0', 5000),
      pip('Foo_Bar', '1.0rc1'),
      file('keyring', '2024.1', 'old key'),
      file('notes', 'aaaaaaaaaaaa', 'old notes'),
      ...hf('org/model', 'c1', { 'config.json': '{}', 'model.safetensors': 'weights v1' }),
      ...hf('org/same', 'c9', { 'config.json': '{a}', 'w.bin': 'original' }),
    ]);
    const neu = index('1.1.0', [
      apt('jq', '1.7.1-6', { distro: 'trixie' }), // another distro qualifier: still the same package
      apt('libc6', '2.36-9'),
      apt('libc6', '2.36-9', { arch: 'i386' }),
      apt('tool', '2.0-1'),
      apt('rebuilt', '1.0-1', { bytes: 'second build' }),
      apt('new', '0.1~rc1-1'),
      pip('numpy', '1.26.4', 4000),
      pip('foo-bar', '1.0'), // PEP 503 name, and 1.0rc1 < 1.0
      file('keyring', '2024.1', 'new key'), // same version, other bytes
      file('notes', 'bbbbbbbbbbbb', 'new notes'),
      ...hf('org/model', 'c2', { 'config.json': '{}', 'model.safetensors': 'weights v2' }),
      ...hf('org/same', 'c9', { 'config.json': '{a}', 'w.bin': 'tampered' }),
    ]);
    const d = diff(old, neu);
    expect(names(d.upgraded)).toEqual(['jq 1.6-2.1→1.7.1-6', 'foo-bar 1.0rc1→1.0']);
    expect(names(d.downgraded)).toEqual(['tool 1:0.9-1→2.0-1', 'numpy 2.0.0→1.26.4']);
    expect(names(d.added)).toEqual(['new →0.1~rc1-1']);
    expect(names(d.removed)).toEqual(['gone 1.0→']);
    // The same version with other bytes is changed (and a warning), whatever the kind.
    expect(names(d.changed)).toEqual(['rebuilt 1.0-1→1.0-1', 'keyring 2024.1→2024.1', 'notes aaaaaaaaaaaa→bbbbbbbbbbbb', 'org/model c1→c2', 'org/same c9→c9']);
    expect(d.changed.filter((e) => e.sameVersion).map((e) => e.name)).toEqual(['rebuilt', 'keyring', 'org/same']);
    expect(d.changed.find((e) => e.name === 'keyring')!.note).toBe('same version, different sha256');
    expect(d.changed.find((e) => e.name === 'org/model')!.note).toBe('files: 1 changed, 0 added, 0 removed');
    expect(d.warnings.map((w) => `${w.kind} ${w.name} ${w.version}`)).toEqual(['apt rebuilt 1.0-1', 'file keyring 2024.1', 'hf org/same c9']);
    expect(d.warnings[0]).toMatchObject({ from: digest('first build'), to: digest('second build') });
    expect(d.warnings[2]!.files).toEqual(['w.bin']);
    expect(d.unchanged).toBe(2); // libc6 amd64 and i386
    expect(d.upgraded[0]!.identity).toBe('pkg:deb/debian/jq?arch=amd64');
    expect(d.downgraded.find((e) => e.name === 'numpy')!.sizeDelta).toBe(-1000);
    expect(d.sizeDelta).toBe(d.new.bytes - d.old.bytes);
    expect(suggestedBump(d)).toBe('major'); // something was removed
  });

  it('identity is the purl without version and without per-version qualifiers, keeping arch', () => {
    expect(identityOf('pkg:deb/debian/jq@1.6?arch=amd64&distro=bookworm')).toBe('pkg:deb/debian/jq?arch=amd64');
    expect(identityOf('pkg:pypi/Foo_Bar@1.0?file_name=Foo_Bar-1.0-py3-none-any.whl')).toBe('pkg:pypi/foo-bar');
    expect(identityOf('pkg:generic/keyring@1?checksum=sha256:ab&download_url=https://x')).toBe('pkg:generic/keyring');
    expect(identityOf('pkg:huggingface/org/m@c0ffee')).toBe('pkg:huggingface/org/m');
  });

  it('orders versions the way each ecosystem does', () => {
    expect(versionOrder('apt', '1.0~rc1-1', '1.0-1')).toBe(1);
    expect(versionOrder('apt', '2.0-1', '1:1.0-1')).toBe(1);
    expect(versionOrder('apt', '1.0-1+b1', '1.0-1')).toBe(-1);
    expect(versionOrder('pip', '1.9', '1.10')).toBe(1);
    expect(versionOrder('pip', '2.5.1+cu124', '2.5.1')).toBe(-1);
    expect(versionOrder('pip', '1.0', '1.0.0')).toBe(0);
    expect(versionOrder('hf', 'abc', 'def')).toBeUndefined();
    expect(versionOrder('file', 'a', 'b')).toBeUndefined();
    expect(versionOrder('runtime', '20.18.1', '20.19.0')).toBe(1);
  });

  it('a downgrade alone, the changelog and the version bump the changes suggest', () => {
    const a = index('1.0.0', [apt('jq', '1.7.1-6'), pip('torch', '2.5.1')]);
    const b = index('1.0.1', [apt('jq', '1.6-2.1'), pip('torch', '2.5.1')]);
    const d = diff(a, b);
    expect(names(d.downgraded)).toEqual(['jq 1.7.1-6→1.6-2.1']);
    expect(d.unchanged).toBe(1);
    expect(suggestedBump(d)).toBe('minor');
    const md = changelogMarkdown(d);
    expect(md).toContain('## gpu 1.0.1 (2026-11-30)');
    expect(md).toContain('### Downgraded (1)\n\n- `jq` `1.7.1-6` → `1.6-2.1` (apt)');
    expect(md).toContain('these changes suggest a **minor** version bump; 1.0.0 → 1.0.1 is only a patch bump');
    expect(diffText(d)).toMatch(/^downgraded \(1\):\n {2}apt {2}jq {2}1\.7\.1-6 → 1\.6-2\.1 /m);

    const patch = diff(index('1.0.0', [apt('jq', '1.6-2.1')]), index('1.0.1', [apt('jq', '1.6-2.1+deb12u1')]));
    expect(suggestedBump(patch)).toBe('patch');
    expect(changelogMarkdown(patch)).toContain('suggest a **patch** version bump.');
    const none = diff(index('1.0.0', [apt('jq', '1.6-2.1')]), index('1.0.0', [apt('jq', '1.6-2.1')]));
    expect(suggestedBump(none)).toBe('none');
    expect(changelogMarkdown(none)).toContain('No component changed.');
    const retarget = diff(index('1.0.0', []), index('2.0.0', [], { os: 'ubuntu-26.04' }));
    expect(suggestedBump(retarget)).toBe('major');
    // Plain diff says so too, not only --changelog.
    expect(diffText(retarget)).toMatch(/^target: ubuntu-24\.04 amd64 python 3\.12 → ubuntu-26\.04 amd64 python 3\.12$/m);
    expect(diffText(none)).not.toMatch(/^target:/m);
  });

  it('a file whose destination or mode changed is changed; setuid, setgid and world-writable are called out', () => {
    const key = (dest: string, mode: string) => file('zz', 'abc123', 'same bytes', { dest, mode });
    const a = index('1.0.0', [key('/etc/apt/keyrings/zz.gpg', '0644'), apt('jq', '1.6-2.1')]);

    const moved = diff(a, index('1.0.1', [key('/etc/apt/keyrings/zz.gpg', '640'), apt('jq', '1.6-2.1')]));
    expect(names(moved.changed)).toEqual(['zz abc123→abc123']);
    expect(moved.changed[0]!.note).toBe('install: /etc/apt/keyrings/zz.gpg, mode 0644 → /etc/apt/keyrings/zz.gpg, mode 0640');
    expect(moved.attention).toEqual([]);
    expect(suggestedBump(moved)).toBe('patch');
    expect(diffText(moved)).toMatch(/^0 added, 0 removed, 0 upgraded, 0 downgraded, 1 changed, 1 unchanged; 0 warning\(s\)$/m);
    // Spelling a mode differently ("640" for "0640") is no change.
    expect(diff(index('1.0.1', [key('/etc/x', '640')]), index('1.0.2', [key('/etc/x', '0640')])).changed).toEqual([]);

    const setuid = diff(a, index('1.1.0', [key('/etc/sudoers.d/zz', '4755'), apt('jq', '1.6-2.1')]));
    expect(setuid.changed[0]).toMatchObject({
      name: 'zz',
      install: { from: { dest: '/etc/apt/keyrings/zz.gpg', mode: '0644' }, to: { dest: '/etc/sudoers.d/zz', mode: '4755', flags: ['setuid'] } },
    });
    expect(setuid.attention).toEqual([
      {
        name: 'zz',
        identity: 'pkg:generic/zz',
        install: { dest: '/etc/sudoers.d/zz', mode: '4755', flags: ['setuid'] },
        was: { dest: '/etc/apt/keyrings/zz.gpg', mode: '0644', flags: [] },
      },
    ]);
    expect(suggestedBump(setuid)).toBe('minor');
    expect(diffText(setuid)).toMatch(
      /^ATTENTION: zz now installs to \/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\) \(was \/etc\/apt\/keyrings\/zz\.gpg, mode 0644\)$/m,
    );
    const md = changelogMarkdown(setuid);
    expect(md).not.toContain('No component changed.');
    expect(md).toContain('### Attention: setuid, setgid or world-writable (1)');
    expect(md).toContain(
      '### Changed (1)\n\n- `zz` `abc123` → `abc123` (file; install: /etc/apt/keyrings/zz.gpg, mode 0644 → /etc/sudoers.d/zz, mode 4755 (SETUID))',
    );

    const added = diff(index('1.0.0', []), index('1.1.0', [file('drop', '1', 'x', { dest: '/tmp/drop', mode: '2777' })]));
    expect(added.attention.map((x) => `${x.name} ${x.install.flags.join(',')} ${x.was ? 'was' : 'new'}`)).toEqual(['drop setgid,world-writable new']);

    // The same version with other bytes: changed, at least a patch.
    const rebuilt = diff(index('1.0.0', [apt('jq', '1.6-2.1', { bytes: 'a' })]), index('1.0.1', [apt('jq', '1.6-2.1', { bytes: 'b' })]));
    expect(rebuilt.changed.map((e) => e.name)).toEqual(['jq']);
    expect(suggestedBump(rebuilt)).toBe('patch');
    expect(diffText(rebuilt)).toMatch(/^0 added, 0 removed, 0 upgraded, 0 downgraded, 1 changed, 0 unchanged; 1 warning\(s\)$/m);
  });

  it('names from upstream stay inline code in the Markdown', () => {
    const d = diff(index('1.0.0', []), index('1.1.0', [pip('evil`name', '1.0')]));
    expect(changelogMarkdown(d)).toContain('- ``evil`name`` `1.0` (pip)');
  });
});

describe('vault-bundle diff', () => {
  it('compares a folder with a tar: --json, human text, --changelog; exit 0 with differences', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    const a = await fileManifest(join(dir, 'a'), { version: '1.0.0' });
    const b = await fileManifest(join(dir, 'b'), { version: '1.1.0', sizes: [10, 3000] });
    await buildIn(dir, a.manifest, { out: join(dir, 'old') });
    await buildIn(dir, b.manifest, { out: join(dir, 'new'), tar: join(dir, 'new.tar') });
    const j = await runCli(['--json', 'diff', join(dir, 'old'), join(dir, 'new.tar')]);
    expect(j.code).toBe(0);
    const r = JSON.parse(j.stdout) as BundleDiff & { type: string };
    expect(r.type).toBe('result');
    // Random files: every file has other bytes, so each is "changed" (a file's version defaults to its sha256).
    expect(r.changed.map((e) => e.name)).toEqual(['f0', 'f1']);
    expect(r.removed.map((e) => e.name)).toEqual(['f2']);
    expect(r.old).toMatchObject({ name: 'test', version: '1.0.0', artifacts: 3 });
    expect(r.new).toMatchObject({ name: 'test', version: '1.1.0', artifacts: 2, bytes: 3010 });
    expect(r.sizeDelta).toBe(3010 - 72_010);
    const h = await runCli(['diff', join(dir, 'old'), join(dir, 'new.tar')]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^test 1\.0\.0 → test 1\.1\.0: 3 → 2 artifacts, 70\.3 KiB → 2\.94 KiB \(-67\.4 KiB\)$/m);
    expect(h.stdout).toMatch(/^removed \(1\):\n {2}file {2}f2 /m);
    // Each category counted apart: 2 changed and 1 removed, not "3 changed".
    expect(h.stdout).toMatch(/^0 added, 1 removed, 0 upgraded, 0 downgraded, 2 changed, 0 unchanged; 0 warning\(s\)$/m);
    expect(h.stdout).not.toContain('warning: ');

    // bundle.json files: inside their bundles (checked against SHA256SUMS there), or alone (unverified, said so).
    const f = await runCli(['diff', join(dir, 'old', 'bundle.json'), join(dir, 'new', 'bundle.json')]);
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/^0 added, 1 removed, 0 upgraded, 0 downgraded, 2 changed, 0 unchanged; 0 warning\(s\)$/m);
    expect(f.stdout).not.toContain('unverified');
    await copyFile(join(dir, 'old', 'bundle.json'), join(dir, 'old.json'));
    const alone = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.tar')]);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toMatch(/^warning: .*old\.json: a bundle\.json alone \(no SHA256SUMS beside it\): unverified/m);
    const md = await runCli(['diff', join(dir, 'old.json'), join(dir, 'new.tar'), '--changelog']);
    expect(md.stdout).toMatch(/^## test 1\.1\.0/);
    expect(md.stderr).toMatch(/^warning: .*unverified/m);
    const c = await runCli(['diff', join(dir, 'old'), join(dir, 'new'), '--changelog']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^## test 1\.1\.0 \(/);
    expect(c.stdout).toContain('### Removed (1)');
  });

  it("a file's destination and mode: inspect, the SBOMs, report and diff all show them", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'zz'), 'Defaults !requiretty\n');
    const manifest = (version: string, install: string) =>
      [
        'name: modes',
        `version: ${version}`,
        'target: { os: ubuntu-24.04, arch: amd64 }',
        'files:',
        '  - name: zz',
        `    path: ${join(dir, 'zz')}`,
        `    sha256: ${createHash('sha256').update('Defaults !requiretty\n').digest('hex')}`,
        `    install: ${install}`,
        '',
      ].join('\n');
    await writeFile(join(dir, 'a.yaml'), manifest('1.0.0', '{ dest: /etc/vault/zz, mode: "0644" }'));
    await writeFile(join(dir, 'b.yaml'), manifest('1.0.1', '{ dest: /etc/sudoers.d/zz, mode: "4755" }'));
    await buildIn(dir, join(dir, 'a.yaml'), { out: join(dir, 'a') });
    await buildIn(dir, join(dir, 'b.yaml'), { out: join(dir, 'b') });
    const b = join(dir, 'b');

    const i = await runCli(['inspect', b]);
    expect(i.stdout).toMatch(/^ATTENTION: zz installs to \/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\)$/m);
    expect(i.stdout).toMatch(/^ {2}zz .* → \/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\)$/m);
    const ij = JSON.parse((await runCli(['--json', 'inspect', b])).stdout) as { specialModes: unknown[] };
    expect(ij.specialModes).toEqual([{ id: 'file:zz', name: 'zz', install: { dest: '/etc/sudoers.d/zz', mode: '4755', flags: ['setuid'] } }]);

    const cdx = JSON.parse((await runCli(['sbom', b])).stdout) as { components: { name: string; properties: { name: string; value: string }[] }[] };
    const props = cdx.components.find((c) => c.name === 'zz')!.properties;
    expect(props).toEqual(
      expect.arrayContaining([
        { name: 'vault-bundle:install-dest', value: '/etc/sudoers.d/zz' },
        { name: 'vault-bundle:install-mode', value: '4755' },
        { name: 'vault-bundle:install-mode-flags', value: 'setuid' },
      ]),
    );
    const spdx = JSON.parse((await runCli(['sbom', b, '--format', 'spdx'])).stdout) as { packages: { name: string; comment?: string }[] };
    expect(spdx.packages.find((p) => p.name === 'zz')!.comment).toBe('installed on the box at /etc/sudoers.d/zz, mode 4755 (SETUID)');

    const page = (await runCli(['report', b, '--base', join(dir, 'a')])).stdout;
    expect(page).toMatch(
      /<ul class="compact" id="special-modes"><li class="bad"><b>zz<\/b> installs to <span class="mono">\/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\)<\/span>/,
    );
    expect(page).toContain('<span class="mono bad install">→ /etc/sudoers.d/zz, mode 4755 (SETUID)</span>');
    expect(page).toMatch(/<ul class="compact" id="diff-attention"><li class="bad"><b>zz<\/b> installs to/);

    const d = await runCli(['diff', join(dir, 'a'), b]);
    expect(d.stdout).toMatch(/^ATTENTION: zz now installs to \/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\)/m);
    expect(d.stdout).toMatch(/^changed \(1\):\n {2}file {2}zz .*install: \/etc\/vault\/zz, mode 0644 → \/etc\/sudoers\.d\/zz, mode 4755 \(SETUID\)$/m);
    expect(d.stdout).toMatch(/^0 added, 0 removed, 0 upgraded, 0 downgraded, 1 changed, 0 unchanged; 0 warning\(s\)$/m);
    const c = await runCli(['diff', join(dir, 'a'), b, '--changelog']);
    expect(c.stdout).toContain('suggest a **minor** version bump; 1.0.0 → 1.0.1 is only a patch bump');
  });

  it('a missing bundle: exit 64 NOT_A_BUNDLE', async () => {
    const dir = await tempDir();
    const r = await runCli(['diff', join(dir, 'nope'), join(dir, 'nope2')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^error: .*nope: no such bundle folder or tar file/m);
    const j = await runCli(['--json', 'diff', join(dir, 'nope'), dir]);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({ type: 'error', code: 'NOT_A_BUNDLE' });
  });
});

/** The Debian mirror this machine's apt names, if it answers for trixie; else why not. */
describe('diff of real bundles: jq from Debian 12 and from Debian 13', () => {
  it('shows the upgrades, the renamed libraries and the new target', async (ctx) => {
    const mirror = await debianMirror('trixie');
    if ('skip' in mirror) {
      ctx.skip(mirror.skip);
      return;
    }
    const dir = await tempDir();
    const cache = join(tmpdir(), 'vault-bundle-test-cache'); // Packages indexes are content-addressed: shared
    await writeFile(
      join(dir, 'bookworm.yaml'),
      [
        'name: jq',
        'version: 1.0.0',
        'target: { os: debian-12, arch: amd64 }',
        'apt:',
        '  sources: [{ system: true, suites: [bookworm] }]',
        '  packages: [jq]',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'trixie.yaml'),
      [
        'name: jq',
        'version: 2.0.0',
        'target: { os: debian-13, arch: amd64 }',
        'apt:',
        '  sources:',
        `    - uri: ${mirror.uri}`,
        '      suites: [trixie]',
        '      components: [main]',
        '      signed-by: /usr/share/keyrings/debian-archive-keyring.gpg',
        '  packages: [jq]',
        '',
      ].join('\n'),
    );
    await buildIn(dir, join(dir, 'bookworm.yaml'), { out: join(dir, 'jq-12'), cacheDir: cache });
    await buildIn(dir, join(dir, 'trixie.yaml'), { out: join(dir, 'jq-13'), cacheDir: cache, tar: join(dir, 'jq-13.tar') });

    const j = await runCli(['--json', 'diff', join(dir, 'jq-12'), join(dir, 'jq-13.tar')]);
    expect(j.code).toBe(0);
    const d = JSON.parse(j.stdout) as BundleDiff;
    const up = new Map(d.upgraded.map((e) => [e.name, e]));
    for (const name of ['jq', 'libjq1', 'libonig5', 'libc6']) {
      expect(up.get(name), name).toBeDefined();
      expect(versionOrder('apt', up.get(name)!.from!, up.get(name)!.to!)).toBe(1);
    }
    expect(up.get('jq')!.from).toMatch(/^1\.6-/);
    expect(up.get('jq')!.to).toMatch(/^1\.7\.1-/);
    expect(d.downgraded).toEqual([]);
    expect(d.warnings).toEqual([]);
    // Libraries whose package name carries the soname or the compiler version come and go.
    expect(d.removed.map((e) => e.name)).toContain('libunistring2');
    expect(d.added.map((e) => e.name)).toContain('libunistring5');
    expect(d.old.target.os).toBe('debian-12');
    expect(d.new.target.os).toBe('debian-13');

    const c = await runCli(['diff', join(dir, 'jq-12'), join(dir, 'jq-13'), '--changelog']);
    expect(c.stdout).toMatch(/^- `jq` `1\.6-[^`]+` → `1\.7\.1-[^`]+` \(apt\)$/m);
    expect(c.stdout).toContain('Target: debian-12 amd64 → debian-13 amd64.');
    expect((await runCli(['diff', join(dir, 'jq-12'), join(dir, 'jq-13')])).stdout).toMatch(/^target: debian-12 amd64 → debian-13 amd64$/m);
    expect(c.stdout).toContain('suggest a **major** version bump');
  }, 180_000);
});
