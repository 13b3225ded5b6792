import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleIndex } from '../src/bundle/index.js';
import { validateSbom } from '../src/sbom/cyclonedx.js';
import { spdxDocument } from '../src/sbom/spdx.js';
import { dep5Id, dep5ToSpdx, parseDep5 } from '../src/sources/apt/copyright.js';
import { readDebDoc } from '../src/sources/apt/deb-doc.js';
import { onPath } from '../src/sources/apt/deb-native.js';
import { wheelLicence } from '../src/sources/pip/licence.js';
import { cardLicence } from '../src/sources/hf/licence.js';
import { aptIso } from './helpers/apt-iso.js';
import { makeKey, makeRepo, serveDir } from './helpers/apt-repo.js';
import { buildIn } from './helpers/build.js';
import { startPypi } from './helpers/pypi-server.js';
import { startHub } from './helpers/hub-server.js';
import { tinyModel } from '../tools/tiny-model/index.js';
import { fixtureWheels } from './helpers/wheels.js';
import { REPO } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const SPDX_SCHEMA = new URL('./fixtures/spdx/spdx-2.3.schema.json', import.meta.url);

interface CdxComponent {
  name: string;
  version?: string;
  licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
  properties?: { name: string; value: string }[];
  hashes?: { alg: string; content: string }[];
  components?: CdxComponent[];
}

const prop = (c: CdxComponent | undefined, n: string) => c?.properties?.find((p) => p.name === n)?.value;

/** The licence of a component as one string: `id:`, `expr:` or `name:`. */
function licenceOf(c: CdxComponent | undefined): string | undefined {
  const l = c?.licenses?.[0];
  if (!l) return undefined;
  return l.expression ? `expr:${l.expression}` : l.license?.id ? `id:${l.license.id}` : `name:${l.license?.name}`;
}

/** cdxgen's strict validator and its converter to SPDX, as the interop test runs them. */
function cdxgenAccepts(bom: string): void {
  const bin = (n: string) => join(REPO, 'node_modules', '.bin', n);
  const v = spawnSync(bin('cdx-validate'), ['-i', bom, '--strict', '--no-include-manual', '--fail-severity', 'critical'], {
    encoding: 'utf8',
    env: { ...process.env, CDXGEN_NO_BANNER: 'true' },
  });
  expect(v.status, `${v.stdout}\n${v.stderr}`).toBe(0);
  const c = spawnSync(bin('cdx-convert'), ['-i', bom, '-o', `${bom}.spdx.json`], { encoding: 'utf8' });
  expect(c.status, `${c.stdout}\n${c.stderr}`).toBe(0);
}

/** Every .deb under `repo` read by dpkg-deb, by xz/zstd alone (no dpkg-deb on PATH), by JS (none), and natively off. */
async function readThreeWays(dir: string) {
  const debs = (await readdir(join(dir, 'repo'), { recursive: true })).filter((f) => f.endsWith('.deb')).map((f) => join(dir, 'repo', f));
  const only = join(dir, 'only-xz-zstd');
  await mkdir(only, { recursive: true });
  for (const t of ['xz', 'zstd'])
    await symlink(
      execFileSync('sh', ['-c', `command -v ${t}`])
        .toString()
        .trim(),
      join(only, t),
    );
  const pkgs = debs.map((d) => execFileSync('dpkg-deb', ['-f', d, 'Package']).toString().trim());
  const readAll = async (o: { native?: boolean }) => Promise.all(debs.map((d, i) => readDebDoc(d, pkgs[i]!, o)));
  const path = process.env.PATH;
  try {
    const dpkg = await readAll({});
    process.env.PATH = only;
    const noDpkgDeb = onPath('dpkg-deb') === undefined && onPath('xz') !== undefined;
    const xz = await readAll({});
    process.env.PATH = join(dir, 'no-such-dir');
    const js = await readAll({});
    process.env.PATH = path;
    const off = await readAll({ native: false });
    const bytes = await readFile(debs.find((d) => d.includes('zst-dep5'))!);
    const at = bytes.indexOf('data.tar.zst') + 60;
    bytes.fill(0x55, at, at + 64);
    await writeFile(join(dir, 'bad.deb'), bytes);
    const bad = await readDebDoc(join(dir, 'bad.deb'), 'zst-dep5');
    return { dpkg, xz, js, off, noDpkgDeb, bad };
  } finally {
    process.env.PATH = path;
  }
}

const viaKinds = (docs: { kind: string }[]) => [...new Set(docs.map((d) => d.kind))].sort();

describe('DEP-5 (machine-readable debian/copyright 1.0)', () => {
  it('maps the short names of §7.1 to SPDX ids, "+" to -or-later, and leaves the rest unmapped', () => {
    expect(dep5Id('GPL-2+')).toBe('GPL-2.0-or-later');
    expect(dep5Id('GPL-2')).toBe('GPL-2.0-only');
    expect(dep5Id('LGPL-2.1+')).toBe('LGPL-2.1-or-later');
    expect(dep5Id('AGPL-3')).toBe('AGPL-3.0-only');
    expect(dep5Id('GFDL-NIV-1.3+')).toBe('GFDL-1.3-no-invariants-or-later');
    expect(dep5Id('Expat')).toBe('MIT');
    expect(dep5Id('BSD-3-clause')).toBe('BSD-3-Clause');
    expect(dep5Id('Apache-2')).toBe('Apache-2.0');
    expect(dep5Id('Apache-2.0')).toBe('Apache-2.0');
    expect(dep5Id('Zope-2.1')).toBe('ZPL-2.1');
    expect(dep5Id('CC0')).toBe('CC0-1.0');
    expect(dep5Id('CC-BY-SA-3.0')).toBe('CC-BY-SA-3.0');
    expect(dep5Id('zlib')).toBe('Zlib');
    // No SPDX id: an unversioned family, public-domain, a name of the packager's own.
    for (const n of ['GPL', 'BSD', 'Artistic', 'public-domain', 'BSD-like', 'Apache-2.0+']) expect(dep5Id(n), n).toBeUndefined();
  });

  it('turns a synopsis into an SPDX expression ("A or B, and C" groups), or nothing when a part has no id', () => {
    expect(dep5ToSpdx('GPL-2+ or Artistic-2.0, and BSD-3-clause')).toBe('(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause');
    expect(dep5ToSpdx('Apache-2.0 or Expat')).toBe('Apache-2.0 OR MIT');
    expect(dep5ToSpdx('GPL-3+ with Autoconf exception')).toBe('GPL-3.0-or-later WITH Autoconf-exception-2.0');
    expect(dep5ToSpdx('Perl')).toBe('(Artistic-1.0-Perl OR GPL-1.0-or-later)');
    expect(dep5ToSpdx('GPL-2+ with OpenSSL exception')).toBeUndefined();
    expect(dep5ToSpdx('Artistic or GPL-1+')).toBeUndefined();
    expect(dep5ToSpdx('GPL-2+ or')).toBeUndefined();
  });

  it('reads the Files: * licence and every licence of the file; a file without the Format line is not DEP-5', () => {
    const text = [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: x',
      '',
      'Files: debian/*',
      'Copyright: 2020 Someone',
      'License: GPL-2+',
      '',
      'Files: src/* *',
      'Copyright: 2019 Upstream',
      'License: Expat',
      ' Permission is hereby granted...',
      '',
      'License: GPL-2+',
      ' On Debian systems, see /usr/share/common-licenses/GPL-2.',
    ].join('\n');
    expect(parseDep5(text)).toEqual({ main: 'Expat', all: ['GPL-2+', 'Expat'] });
    expect(parseDep5('Copyright (C) 1995 Someone\n\nThis is free software.\n')).toBeUndefined();
    expect(parseDep5('Upstream-Name: wayland\n\nFiles: *\nLicense: MIT\n')).toBeUndefined();
  });
});

// Real .debs from the Debian mirror named by this machine's apt configuration, and .debs made by the real
// dpkg-deb with each member compression (zstd, xz, gzip), in a signed repository; built by the real build.
const REAL = ['python3-outcome', 'runit-helper', 'libnumber-compare-perl', 'libpaper1', 'python3-all'];

describe('apt licences from the .debs, in the SBOM made from bundle.json', () => {
  let dir = '';
  let server: Awaited<ReturnType<typeof serveDir>> | undefined;
  let index: BundleIndex;
  let cdx: { components: CdxComponent[] };
  let bomText = '';
  let cachedFacts = 0;
  let runitSha = '';
  let ways: Awaited<ReturnType<typeof readThreeWays>>;

  beforeAll(async () => {
    const iso = await aptIso();
    if (!iso) throw new Error('no Debian mirror configured in /etc/apt or it cannot be reached');
    dir = await tempDir();
    const dl = join(dir, 'dl');
    execFileSync('mkdir', ['-p', dl]);
    execFileSync('apt-get', ['download', '-q', ...REAL], { cwd: dl, env: { ...process.env, APT_CONFIG: iso.config }, stdio: 'ignore', timeout: 120_000 });
    const real = (await readdir(dl)).filter((f) => f.endsWith('.deb')).map((f) => ({ name: '', version: '', deb: join(dl, f) }));
    expect(real).toHaveLength(REAL.length);
    const key = await makeKey(dir);
    const dep5 =
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2026 Test\nLicense: GPL-2+ or Artistic-2.0, and BSD-3-clause\n';
    await makeRepo(join(dir, 'repo'), {
      key,
      packages: [
        ...real,
        { name: 'zst-dep5', version: '1.0-1', compression: 'zstd', copyright: dep5 },
        { name: 'xz-link', version: '1.0-1', compression: 'xz', docLink: 'zst-dep5' },
        { name: 'gz-none', version: '1.0-1', compression: 'gzip' },
      ],
    });
    server = await serveDir(join(dir, 'repo'));
    ways = await readThreeWays(dir);
    const names = [...REAL, 'zst-dep5', 'xz-link', 'gz-none'];
    const m = join(dir, 'm.yaml');
    execFileSync('sh', [
      '-c',
      `cat > ${m} <<'EOF'
name: lic
version: 1.0.0
target: {os: debian-12, arch: amd64}
apt:
  sources:
    - {uri: "${server.url}", suites: [stable], components: [main], signed-by: ${key.keyring}}
  packages: [${names.join(', ')}]
  recommends: false
  # Their dependencies are not in this repository: assumed on the box.
  exclude: [python3, python3-attr, python3-distutils, python3.11, libc6, debconf, debconf-2.0, ucf, dpkg, perl]
EOF`,
    ]);
    const r = await buildIn(dir, m);
    const first = await readFile(join(r.dir, 'bundle.json'), 'utf8');
    index = JSON.parse(first) as BundleIndex;
    // What each .deb said is kept beside the cache's blobs: a rebuild reads none again, and says the same.
    cachedFacts = (await readdir(join(dir, 'cache', 'facts', 'apt-copyright-1'))).length;
    const again = await buildIn(dir, m);
    expect(await readFile(join(again.dir, 'bundle.json'), 'utf8')).toBe(first);
    bomText = await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8');
    cdx = JSON.parse(bomText) as { components: CdxComponent[] };
    const copyright = execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile ${dl}/runit-helper_*.deb | tar -xOf - ./usr/share/doc/runit-helper/copyright`]);
    runitSha = createHash('sha256').update(copyright).digest('hex');
  }, 300_000);

  afterAll(async () => {
    await server?.close();
  });

  const comp = (name: string) => cdx.components.find((c) => c.name === name);
  const meta = (name: string) => index.artifacts.find((a) => a.name === name)?.meta ?? {};

  it('DEP-5: the Files: * licence as an SPDX id or expression when every short name maps, else its name as Debian wrote it', () => {
    expect(licenceOf(comp('python3-outcome'))).toBe('expr:Apache-2.0 OR MIT');
    expect(licenceOf(comp('runit-helper'))).toBe('id:GPL-3.0-or-later');
    expect(licenceOf(comp('libnumber-compare-perl'))).toBe('name:Artistic or GPL-1+');
    expect(licenceOf(comp('zst-dep5'))).toBe('expr:(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause');
    expect(meta('runit-helper')).toMatchObject({
      licenseFrom: 'dep5',
      licenseAsWritten: 'GPL-3+',
      licenseFile: 'usr/share/doc/runit-helper/copyright',
      licenseFileSha256: runitSha,
    });
    expect(prop(comp('runit-helper'), 'vault-bundle:license-file-sha256')).toBe(meta('runit-helper').licenseFileSha256);
  });

  it('not machine-readable: no licence is guessed, the file and its sha256 are named; a doc link takes the linked package', () => {
    const paper = comp('libpaper1');
    expect(paper?.licenses ?? []).toEqual([]);
    expect(prop(paper, 'vault-bundle:license-from')).toBe('copyright-file');
    expect(prop(paper, 'vault-bundle:license-file')).toBe('usr/share/doc/libpaper1/copyright');
    expect(prop(paper, 'vault-bundle:license-file-sha256')).toMatch(/^[0-9a-f]{64}$/);
    // python3-all's doc folder links to python3's, which is not in this bundle.
    expect(meta('python3-all')).toMatchObject({ licenseFrom: 'link', licenseNote: expect.stringContaining('python3 is not in this bundle') });
    expect(comp('python3-all')?.licenses ?? []).toEqual([]);
    // xz-link's links to zst-dep5, which is.
    expect(licenceOf(comp('xz-link'))).toBe(licenceOf(comp('zst-dep5')));
    expect(meta('xz-link')).toMatchObject({ licenseFile: 'usr/share/doc/zst-dep5/copyright', licenseNote: expect.stringContaining('link to zst-dep5') });
    expect(meta('gz-none')).toMatchObject({ licenseFrom: 'missing' });
    expect(cachedFacts).toBe(REAL.length + 3);
    expect(comp('gz-none')?.licenses ?? []).toEqual([]);
  });

  it("the build host's dpkg-deb, its xz/zstd alone, and the JS decompressors read every .deb alike; a broken one falls back", () => {
    expect(ways.dpkg).toHaveLength(REAL.length + 3);
    expect(viaKinds(ways.dpkg)).toEqual(['copyright', 'link', 'missing']);
    expect(ways.xz).toEqual(ways.dpkg);
    expect(ways.js).toEqual(ways.dpkg);
    expect(ways.off).toEqual(ways.dpkg);
    expect(ways.noDpkgDeb).toBe(true);
    // Its data member's compressed bytes broken: dpkg-deb fails, and the JS reader says why.
    expect(ways.bad).toMatchObject({ kind: 'unreadable', reason: expect.stringContaining('data.tar.zst') });
  });

  it('the SBOM stays valid: CycloneDX 1.6 schema, cdx-validate --strict, cdx-convert, and the SPDX 2.3 view', async () => {
    expect(await validateSbom(bomText)).toBeNull();
    const bomPath = join(await tempDir(), 'sbom.cdx.json');
    await writeFile(bomPath, bomText);
    cdxgenAccepts(bomPath);
    const doc = spdxDocument(index, 'ab'.repeat(32));
    const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(await readFile(SPDX_SCHEMA, 'utf8')) as object);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const pkg = (n: string) => doc.packages.find((p) => p.name === n)!;
    expect(pkg('runit-helper').licenseDeclared).toBe('GPL-3.0-or-later');
    expect(pkg('libpaper1')).toMatchObject({ licenseDeclared: 'NOASSERTION', licenseComments: expect.stringContaining('usr/share/doc/libpaper1/copyright') });
    expect(pkg('libnumber-compare-perl').licenseDeclared).toMatch(/^LicenseRef-/);
  }, 120_000);
});

describe('wheel licences from METADATA (wheels built by the real pip wheel)', () => {
  it('License-Expression first, then a short License, then License :: classifiers mapped where exact', () => {
    const md = (...lines: string[]) => `Metadata-Version: 2.1\nName: x\nVersion: 1\n${lines.join('\n')}\n\nlong description\nLicense: nope\n`;
    expect(wheelLicence(md('License-Expression: MIT OR Apache-2.0', 'License: BSD'))).toBe('MIT OR Apache-2.0');
    expect(wheelLicence(md('License: mit'))).toBe('MIT');
    expect(wheelLicence(md('License: GPLv3+', 'Classifier: License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)'))).toBe(
      'GPL-3.0-or-later',
    );
    expect(wheelLicence(md('License: Apache 2.0', 'Classifier: License :: OSI Approved :: Apache Software License'))).toBe('Apache 2.0');
    expect(wheelLicence(md('License: UNKNOWN', 'Classifier: License :: OSI Approved :: Apache Software License'))).toBe('Apache Software License');
    expect(
      wheelLicence(md('License: Copyright (c) 2020 X', '        Permission is hereby granted', 'Classifier: License :: OSI Approved :: MIT License')),
    ).toBe('MIT');
    expect(wheelLicence(md('Classifier: License :: OSI Approved :: MIT License', 'Classifier: License :: OSI Approved :: Apache Software License'))).toBe(
      'MIT, Apache Software License',
    );
    expect(wheelLicence(md('Summary: none'))).toBeUndefined();
  });

  it('the SBOM names each wheel licence: an SPDX id or expression, else the classifier as written', async () => {
    const wheels = join(
      fixtureWheels([
        { name: 'vb-lic-expr', version: '1.0', license: { expression: 'Apache-2.0 OR MIT' } },
        { name: 'vb-lic-gpl', version: '1.0', license: { classifiers: ['License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)'] } },
        { name: 'vb-lic-asl', version: '1.0', license: { classifiers: ['License :: OSI Approved :: Apache Software License'] } },
        { name: 'vb-lic-text', version: '1.0' },
      ]),
      'wheels',
    );
    const pypi = await startPypi({ dirs: [wheels], yanked: [] });
    try {
      const dir = await tempDir();
      const m = join(dir, 'm.yaml');
      await writeFile(
        m,
        `name: lic\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "3.11"}\npip:\n  index-url: ${pypi.url}\n  packages: [vb-lic-expr, vb-lic-gpl, vb-lic-asl, vb-lic-text]\n`,
      );
      const r = await buildIn(dir, m);
      const text = await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8');
      const comps = (JSON.parse(text) as { components: CdxComponent[] }).components;
      const lic = (n: string) => licenceOf(comps.find((c) => c.name === n));
      expect(lic('vb-lic-expr')).toBe('expr:Apache-2.0 OR MIT');
      expect(lic('vb-lic-gpl')).toBe('id:GPL-3.0-or-later');
      expect(lic('vb-lic-asl')).toBe('name:Apache Software License');
      expect(lic('vb-lic-text')).toBe('id:MIT');
      expect(await validateSbom(text)).toBeNull();
    } finally {
      await pypi.close();
    }
  }, 180_000);
});

describe('model licences from the model card (a generated repo on a Hub-compatible server, and a local folder)', () => {
  it('card ids: SPDX where the Hub id is one, the Hub name otherwise; other → license_name and license_link', () => {
    const card = (fm: string) => cardLicence(`---\n${fm}\n---\n# model\n`);
    expect(card('license: apache-2.0')).toMatchObject({ license: 'Apache-2.0', licenseAsWritten: 'apache-2.0', licenseFrom: 'model-card' });
    expect(card('license: cc-by-nc-4.0')).toMatchObject({ license: 'CC-BY-NC-4.0' });
    expect(card('license: odbl')).toMatchObject({ license: 'ODbL-1.0' });
    expect(card('license: llama2')).toMatchObject({ license: 'llama2' });
    expect(card('license: other\nlicense_name: acme-model-licence\nlicense_link: LICENSE.md')).toEqual({
      license: 'acme-model-licence',
      licenseAsWritten: 'other',
      licenseLink: 'LICENSE.md',
      licenseFrom: 'model-card',
    });
    expect(card('license:\n  - mit\n  - apache-2.0')).toMatchObject({ license: 'mit, apache-2.0' });
    expect(card('license: unknown')).toBeUndefined();
    expect(card('tags: [x]')).toBeUndefined();
    expect(cardLicence('# no front matter\nlicense: mit\n')).toBeUndefined();
  });

  it('the SBOM names the licence of each model, with the card left out by include, and of a local folder', async () => {
    const tiny = tinyModel({ arch: 'gpt2', seed: 3 }).files;
    const hub = await startHub({
      repos: [
        { id: 'acme/apache', files: { ...tiny, 'README.md': '---\nlicense: apache-2.0\n---\n# x\n' } },
        { id: 'acme/other', files: { ...tiny, 'README.md': '---\nlicense: other\nlicense_name: acme-licence\nlicense_link: LICENSE\n---\n' } },
      ],
    });
    try {
      const dir = await tempDir();
      await mkdir(join(dir, 'llama'));
      await writeFile(join(dir, 'llama', 'config.json'), '{"model_type":"llama"}\n');
      await writeFile(join(dir, 'llama', 'README.md'), '---\nlicense: llama2\n---\n');
      const m = join(dir, 'm.yaml');
      await writeFile(
        m,
        [
          'name: lic',
          'version: 1.0.0',
          'target: {os: ubuntu-24.04, arch: amd64, python: "3.12"}',
          'hf:',
          `  endpoint: ${hub.url}`,
          '  models:',
          '    - {repo: acme/apache, revision: main}',
          '    - {repo: acme/other, revision: main, include: ["*.json", "*.safetensors"]}',
          '    - {repo: acme/llama, local: llama, include: ["*.json"]}',
          '',
        ].join('\n'),
      );
      const r = await buildIn(dir, m);
      const text = await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8');
      const comps = (JSON.parse(text) as { components: CdxComponent[] }).components;
      const model = (n: string) => comps.find((c) => c.name === n && prop(c, 'vault-bundle:kind') === 'hf');
      expect(licenceOf(model('apache'))).toBe('id:Apache-2.0');
      expect(licenceOf(model('other'))).toBe('name:acme-licence');
      expect(prop(model('other'), 'vault-bundle:license-link')).toBe('LICENSE');
      // README.md was left out by include: fetched for the licence, not bundled.
      expect(model('other')?.components?.map((c) => c.name)).not.toContain('README.md');
      expect(licenceOf(model('llama'))).toBe('name:llama2');
      expect(await validateSbom(text)).toBeNull();
    } finally {
      await hub.close();
    }
  }, 120_000);
});
