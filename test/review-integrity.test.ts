import { execFile as execFileCb } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import type { BundleIndex } from '../src/bundle/index.js';
import { auditBundle } from '../src/audit/bundle.js';
import { reportPage } from '../src/report/page.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

const execFile = promisify(execFileCb);

/** bundle.json with its first artifact deleted and the version raised: what a tamperer would show a reviewer. */
async function tamper(bundleDir: string): Promise<void> {
  const idx = JSON.parse(await readFile(join(bundleDir, 'bundle.json'), 'utf8')) as BundleIndex;
  idx.artifacts.shift();
  idx.version = '9.9.9';
  await writeFile(join(bundleDir, 'bundle.json'), `${JSON.stringify(idx, null, 2)}\n`);
}

const OSV = join(import.meta.dirname, 'fixtures', 'osv');

describe('the reviewer commands check bundle.json and the SBOM against SHA256SUMS', () => {
  it('an edited bundle.json fails inspect, sbom, diff, audit and report in a folder, a tar and a split folder', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [10, 2000] });
    await buildIn(dir, manifest, { out: join(dir, 'good') });
    await buildIn(dir, manifest, { out: join(dir, 'split'), media: 'fat32', partSize: 1 << 20 });
    await cp(join(dir, 'good'), join(dir, 'folder'), { recursive: true });
    await tamper(join(dir, 'folder'));
    await tamper(join(dir, 'split'));
    // A tar as build --tar lays it out (one top-level folder), holding the edited bundle.json.
    await execFile('tar', ['-cf', join(dir, 'edited.tar'), '-C', dir, 'folder']);

    for (const b of [join(dir, 'folder'), join(dir, 'edited.tar'), join(dir, 'split')]) {
      for (const args of [
        ['inspect', b],
        ['sbom', b],
        ['diff', join(dir, 'good'), b],
        ['audit', b, '--osv', OSV],
        ['report', b],
      ]) {
        const r = await runCli(args);
        expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(4);
        expect(r.stderr).toMatch(/^error: .*bundle\.json does not match SHA256SUMS .*changed after it was built/m);
        expect(r.stderr).toMatch(/^hint: .*vault-bundle verify/m);
        expect(r.stdout).not.toContain('9.9.9');
      }
    }
    // The untouched bundle still reads.
    expect((await runCli(['inspect', join(dir, 'good')])).code).toBe(0);
  });

  it('an edited SBOM fails sbom and report; report --key never calls an edited bundle "signature valid"', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [10] });
    await buildIn(dir, manifest, { out: join(dir, 'b') });
    const b = join(dir, 'b');
    const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name: 'Release', email: 'release@test.invalid' }], format: 'armored' });
    await writeFile(join(dir, 'release.sec.asc'), privateKey);
    await writeFile(join(dir, 'release.asc'), publicKey);
    expect((await runCli(['sign', b, '--key', join(dir, 'release.sec.asc')])).code).toBe(0);
    const good = await reportPage({ bundle: b, key: join(dir, 'release.asc') });
    expect(good.signature.state).toBe('valid');
    expect(good.signature.text).toContain('it covers SHA256SUMS, which bundle.json and sbom.cdx.json match');

    const sbom = await readFile(join(b, 'sbom.cdx.json'), 'utf8');
    await writeFile(join(b, 'sbom.cdx.json'), sbom.replace(/"name": "f0"/, '"name": "f0-renamed"'));
    expect(await readFile(join(b, 'sbom.cdx.json'), 'utf8')).not.toBe(sbom);
    for (const args of [
      ['sbom', b],
      ['report', b, '--key', join(dir, 'release.asc')],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toMatch(/^error: .*sbom\.cdx\.json does not match SHA256SUMS/m);
      expect(r.stdout).not.toContain('signature valid');
    }
    await writeFile(join(b, 'sbom.cdx.json'), sbom);
    await tamper(b);
    await expect(reportPage({ bundle: b, key: join(dir, 'release.asc') })).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      exitCode: 4,
      subject: `${b}/bundle.json`,
    });
  });

  it('a bundle.json alone is read with a warning that it is unverified; one beside its SHA256SUMS is checked', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [10] });
    await buildIn(dir, manifest, { out: join(dir, 'b') });
    await cp(join(dir, 'b', 'bundle.json'), join(dir, 'bundle.json'));
    const alone = await auditBundle({ bundle: join(dir, 'bundle.json'), osv: [OSV], failOn: 'high' });
    expect(alone.unverified).toMatch(/bundle\.json alone \(no SHA256SUMS beside it\): unverified/);
    const cli = await runCli(['audit', join(dir, 'bundle.json'), '--osv', OSV]);
    expect(cli.stdout).toMatch(/^warning: .*bundle\.json alone .*unverified/m);

    const inside = await auditBundle({ bundle: join(dir, 'b', 'bundle.json'), osv: [OSV], failOn: 'high' });
    expect(inside.unverified).toBeUndefined();
    await tamper(join(dir, 'b'));
    await expect(auditBundle({ bundle: join(dir, 'b', 'bundle.json'), osv: [OSV], failOn: 'high' })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(sha256(await readFile(join(dir, 'bundle.json')))).not.toBe(sha256(await readFile(join(dir, 'b', 'bundle.json'))));
  });
});
