import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleIndex } from '../src/bundle/index.js';
import { makeKey, makeRepo, serveDir } from './helpers/apt-repo.js';
import { buildIn } from './helpers/build.js';
import { tempDir } from './helpers/tmp.js';

interface CdxComponent {
  name: string;
  licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
  properties?: { name: string; value: string }[];
}

const MIT = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2026 Test\nLicense: Expat\n';
const GPL = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2026 Test\nLicense: GPL-2+\n';
// Incompressible bytes, so the size order of the .debs is the order written here.
const big = (n: number) => randomBytes(n).toString('base64');

/**
 * The licence read once per source package and version (issue #14: the read of every CUDA .deb broke the 2x):
 * a signed test repository with binaries of one source sharing their copyright file, built by the library with
 * the default and with `licences: every-package`; the facts cache counts the .debs that were read.
 */
describe('apt licences: one read per source package, siblings named as such; every-package reads each', () => {
  let dir = '';
  let server: Awaited<ReturnType<typeof serveDir>> | undefined;
  const built: Record<string, { index: BundleIndex; cdx: { components: CdxComponent[] }; read: string[] }> = {};
  const again: { meta?: unknown[]; rewritten?: boolean } = {};

  beforeAll(async () => {
    dir = await tempDir();
    const key = await makeKey(dir);
    await makeRepo(join(dir, 'repo'), {
      key,
      packages: [
        // Source foo: the small foo-utils is read, libfoo1 (larger) is its sibling.
        { name: 'libfoo1', version: '1.0-1', source: 'foo', copyright: MIT, payload: big(200_000), compression: 'xz' },
        { name: 'foo-utils', version: '1.0-1', source: 'foo', copyright: MIT, compression: 'xz' },
        // A binNMU of source bar: Source names the source's version. The smallest links its doc folder to
        // libbar1's (no file of its own), so libbar1 is read next; bar-extra is libbar1's sibling.
        { name: 'bar-doc', version: '2.0-1+b1', source: 'bar (2.0-1)', docLink: 'libbar1' },
        { name: 'libbar1', version: '2.0-1+b1', source: 'bar (2.0-1)', copyright: GPL, payload: big(20_000) },
        { name: 'bar-extra', version: '2.0-1+b1', source: 'bar (2.0-1)', copyright: GPL, payload: big(100_000) },
        // Its own source (no Source field): read alone.
        { name: 'solo', version: '3.0', copyright: GPL },
      ],
    });
    server = await serveDir(join(dir, 'repo'));
    const names = ['libfoo1', 'foo-utils', 'bar-doc', 'libbar1', 'bar-extra', 'solo'];
    for (const mode of ['default', 'every-package'] as const) {
      const m = join(dir, `${mode}.yaml`);
      const licences = mode === 'default' ? '' : `\n  licences: ${mode}`;
      await writeFile(
        m,
        `name: lic\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - {uri: "${server.url}", suites: [stable], components: [main], signed-by: ${key.keyring}}\n  packages: [${names.join(', ')}]${licences}\n`,
      );
      const cacheDir = join(dir, `cache-${mode}`);
      const r = await buildIn(dir, m, { cacheDir, out: join(dir, `out-${mode}`) });
      const index = JSON.parse(await readFile(join(r.dir, 'bundle.json'), 'utf8')) as BundleIndex;
      const cdx = JSON.parse(await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8')) as { components: CdxComponent[] };
      // The facts cache holds one file per .deb read: <sha256>-<hex of the package name>.json.
      const read = (await readdir(join(cacheDir, 'facts', 'apt-copyright-1')))
        .map((f) => Buffer.from(f.split('-')[1]!.replace('.json', ''), 'hex').toString())
        .sort();
      built[mode] = { index, cdx, read };
    }
    // As a crash may leave them (no fsync): one facts file empty, one cut short; a build over that cache reads both again.
    const facts = join(dir, 'cache-default', 'facts', 'apt-copyright-1');
    const files = (await readdir(facts)).sort().slice(0, 2);
    await writeFile(join(facts, files[0]!), '');
    await writeFile(join(facts, files[1]!), (await readFile(join(facts, files[1]!), 'utf8')).slice(0, 20));
    const r = await buildIn(dir, join(dir, 'default.yaml'), { cacheDir: join(dir, 'cache-default'), out: join(dir, 'out-again') });
    again.meta = (JSON.parse(await readFile(join(r.dir, 'bundle.json'), 'utf8')) as BundleIndex).artifacts.map((a) => a.meta);
    const parsed = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(facts, f), 'utf8')) as { facts?: object }));
    again.rewritten = parsed.every((p) => typeof p.facts === 'object');
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  const meta = (mode: string, name: string) => built[mode]!.index.artifacts.find((a) => a.name === name)?.meta ?? {};
  const prop = (mode: string, name: string, p: string) =>
    built[mode]!.cdx.components.find((c) => c.name === name)?.properties?.find((x) => x.name === p)?.value;

  it('reads the smallest .deb of each source (the next one when it has no copyright file), and no other', () => {
    expect(built.default!.read).toEqual(['bar-doc', 'foo-utils', 'libbar1', 'solo']);
  });

  it('a sibling carries the licence, file and sha256 of the .deb read, and says whose it is', () => {
    const utils = meta('default', 'foo-utils');
    expect(utils).toMatchObject({ licenseFrom: 'dep5', license: 'MIT', licenseFile: 'usr/share/doc/foo-utils/copyright' });
    expect(utils.licenseReadFrom).toBeUndefined();
    const lib = meta('default', 'libfoo1');
    expect(lib).toMatchObject({
      licenseFrom: 'dep5',
      license: 'MIT',
      licenseFile: 'usr/share/doc/foo-utils/copyright',
      licenseFileSha256: utils.licenseFileSha256,
      licenseReadFrom: 'apt:foo-utils@1.0-1:amd64',
    });
    expect(lib.licenseNote).toBe(
      `copyright of foo-utils 1.0-1 (sha256 ${utils.licenseFileSha256}), same source foo 1.0-1: this .deb was not read (one read per source package)`,
    );
    expect(prop('default', 'libfoo1', 'vault-bundle:license-read-from')).toBe('apt:foo-utils@1.0-1:amd64');
    expect(prop('default', 'foo-utils', 'vault-bundle:license-read-from')).toBeUndefined();
    // The source's version, not the binNMU's, groups bar's binaries.
    expect(meta('default', 'bar-extra')).toMatchObject({ license: 'GPL-2.0-or-later', licenseReadFrom: 'apt:libbar1@2.0-1+b1:amd64' });
    expect(meta('default', 'bar-extra').licenseNote).toContain('same source bar 2.0-1');
    expect(meta('default', 'bar-doc')).toMatchObject({ license: 'GPL-2.0-or-later', licenseFile: 'usr/share/doc/libbar1/copyright' });
    expect(meta('default', 'bar-doc').licenseNote).toContain('link to libbar1');
    expect(meta('default', 'solo')).toMatchObject({ license: 'GPL-2.0-or-later', licenseFile: 'usr/share/doc/solo/copyright' });
  });

  it('every-package reads every .deb: each has its own file, none says "read from"', () => {
    expect(built['every-package']!.read).toEqual(['bar-doc', 'bar-extra', 'foo-utils', 'libbar1', 'libfoo1', 'solo']);
    expect(meta('every-package', 'libfoo1')).toMatchObject({ license: 'MIT', licenseFile: 'usr/share/doc/libfoo1/copyright' });
    expect(meta('every-package', 'libfoo1').licenseReadFrom).toBeUndefined();
    expect(meta('every-package', 'libfoo1').licenseNote).toBeUndefined();
    // Identical copyright files: the same sha256 the default build carried over.
    expect(meta('every-package', 'libfoo1').licenseFileSha256).toBe(meta('default', 'libfoo1').licenseFileSha256);
    expect(meta('every-package', 'bar-extra')).toMatchObject({ license: 'GPL-2.0-or-later', licenseFile: 'usr/share/doc/bar-extra/copyright' });
  });

  it('a facts file a crash left empty or short (they are written without fsync) is read again: the same facts', () => {
    expect(again.meta).toEqual(built.default!.index.artifacts.map((a) => a.meta));
    expect(again.rewritten).toBe(true);
  });
});
