import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { inputsDigestOf, loadManifest, parseManifest } from '../src/manifest/load.js';
import { manifestJsonSchema } from '../src/manifest/schema.js';
import { ManifestError } from '../src/util/errors.js';
import { REPO } from './helpers/cli.js';

const good = `name: demo
version: 1.2.3
target:
  os: ubuntu-24.04
  arch: amd64
files:
  - name: k
    path: k.gpg
    sha256: ${'a'.repeat(64)}
`;

function fails(text: string): ManifestError {
  try {
    parseManifest(text, 'm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return err as ManifestError;
  }
  throw new Error('expected a ManifestError');
}

describe('manifest', () => {
  it('parses a valid manifest', () => {
    const m = parseManifest(good, 'm.yaml');
    expect(m.name).toBe('demo');
    expect((m.files as unknown[]).length).toBe(1);
  });

  it('names file, line and field of an unknown field', () => {
    const e = fails(good.replace('    path: k.gpg', '    path: k.gpg\n    sha265: abc'));
    expect(e.code).toBe('MANIFEST_FIELD');
    expect(e.message).toContain('m.yaml:9');
    expect(e.message).toContain('files[0].sha265');
    expect(e.message).toContain('unknown field "sha265"');
  });

  it('reads a union as the alternative meant, suggests the field meant, and says how to write a list', () => {
    const head = 'name: x\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\n';
    const repo = fails(
      `${head}apt:\n  sources:\n    - uri: http://example.invalid/debian\n      suites: bookworm\n      sigend-by: k.gpg\n  packages: [jq]\npip:\n  find_links: [w]\n  packages: [setuptools]\n`,
    );
    expect(repo.message.split('\n')).toEqual([
      'm.yaml:7: apt.sources[0].suites: expected a list; YAML read "bookworm": write [bookworm]',
      'm.yaml:6: apt.sources[0].signed-by: missing required field (expected text or a list)',
      'm.yaml:8: apt.sources[0].sigend-by: unknown field "sigend-by" (did you mean "signed-by"?)',
      'm.yaml:11: pip.find_links: unknown field "find_links" (did you mean "find-links"?)',
    ]);
    expect(fails(`${head}apt:\n  sources: sytem\n  packages: [jq]\n`).message).toBe('m.yaml:5: apt.sources: expected "system" or a list; YAML read "sytem"');
    expect(fails(`${head}apt:\n  sources: [{system: true, suite: [bookworm]}]\n  packages: [jq]\n`).message).toBe(
      'm.yaml:5: apt.sources[0].suite: unknown field "suite" (did you mean "suites"?)',
    );
    expect(fails(`${head}apt:\n  sources: system\n  packages: [jq]\nzzz: 1\n`).message).toBe('m.yaml:7: zzz: unknown field "zzz"'); // nothing close
    expect(fails(`${head}apt:\n  sources: system\n  packages:\n    - jq=1\n    - curl\n    - jq=2\n`).message).toBe(
      'm.yaml:9: apt.packages[2]: jq is listed twice ("jq=1" and "jq=2"): keep one',
    );
  });

  it('names an unknown top-level section', () => {
    const e = fails(`${good}extras: 1\n`);
    expect(e.message).toMatch(/m\.yaml:10: extras: unknown field "extras"/);
  });

  it('refuses an unpinned file (no sha256) and names it', () => {
    const e = fails(good.replace(`    sha256: ${'a'.repeat(64)}\n`, ''));
    expect(e.message).toContain('files[0].sha256');
    expect(e.message).toMatch(/missing required field/);
    expect(e.message).toContain('m.yaml:7');
  });

  it('explains a malformed hash', () => {
    const e = fails(good.replace('a'.repeat(64), 'xyz'));
    expect(e.message).toMatch(/m\.yaml:9: files\[0\]\.sha256: .*64 hex digits/);
  });

  it('reports YAML syntax errors with the line', () => {
    const e = fails('name: a\nversion: [1\n');
    expect(e.code).toBe('MANIFEST_YAML');
    expect(e.message).toMatch(/^m\.yaml:\d+: invalid YAML/);
  });

  it('refuses duplicate keys', () => {
    expect(fails(`name: a\n${good}`).code).toBe('MANIFEST_YAML');
  });

  it('checks semver and target values', () => {
    expect(fails(good.replace('1.2.3', 'v1.2.3')).message).toContain('version: a semantic version');
    expect(fails(good.replace('1.2.3', '1.2')).message).toMatch(/m\.yaml:2: version: expected text; YAML read 1\.2 as a number: put it in quotes/);
    expect(fails(good.replace('amd64', 'x86_64')).message).toContain('target.arch');
  });

  it('says which file is missing', async () => {
    await expect(loadManifest('/nonexistent/m.yaml')).rejects.toMatchObject({
      code: 'MANIFEST_READ',
      message: expect.stringContaining('/nonexistent/m.yaml: no such file'),
    });
  });

  it('inputs digest ignores name, version and comments but not sources', () => {
    const a = parseManifest(good, 'm.yaml');
    const b = parseManifest(`# comment\n${good.replace('1.2.3', '2.0.0').replace('name: demo', 'name: other')}`, 'm.yaml');
    const c = parseManifest(good.replace('k.gpg', 'other.gpg'), 'm.yaml');
    expect(inputsDigestOf(a)).toBe(inputsDigestOf(b));
    expect(inputsDigestOf(a)).not.toBe(inputsDigestOf(c));
  });

  it('the committed JSON Schema is the one generated from the types', async () => {
    const committed = JSON.parse(await readFile(`${REPO}/manifests/manifest.schema.json`, 'utf8')) as unknown;
    expect(committed).toEqual(manifestJsonSchema());
    const props = (manifestJsonSchema() as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['name', 'version', 'target', 'files']));
  });

  it('every committed manifest validates', async () => {
    for (const f of ['quickstart.yaml', 'nvidia-debian12.yaml', 'demo-box.yaml']) await expect(loadManifest(`${REPO}/manifests/${f}`)).resolves.toBeTruthy();
  });
});
