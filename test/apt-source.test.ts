import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBundle } from '../src/install/install.js';
import { whyPulled } from '../src/report/why.js';
import { readLock } from '../src/lock/lock.js';
import { validateSbom } from '../src/sbom/cyclonedx.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './helpers/apt-repo.js';
import { tempDir } from './helpers/tmp.js';

let work: string;
let key: SigningKey;
let repo: string;
let server: Awaited<ReturnType<typeof serveDir>>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-apt-src-'));
  key = await makeKey(work);
  repo = join(work, 'repo');
  await makeRepo(repo, {
    key,
    origin: 'Vendor',
    packages: [
      { name: 'alpha', version: '1.0-1', depends: 'beta (>= 2), mta', recommends: 'gamma' },
      { name: 'beta', version: '2.1-1' },
      { name: 'beta', version: '1.0-1' },
      { name: 'gamma', version: '0.1-1' },
      { name: 'postfixish', version: '3', provides: 'mta' },
      { name: 'broken', version: '1', depends: 'nothere (>= 1)' },
    ],
  });
  server = await serveDir(repo);
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function manifest(dir: string, apt: string): Promise<string> {
  const m = join(dir, 'm.yaml');
  await writeFile(
    m,
    `name: apt-test\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - uri: ${server.url}\n      suites: [stable]\n      components: [main]\n      signed-by: ${key.keyring}\n${apt}`,
  );
  return m;
}

describe('apt source', () => {
  it('locks the closure with the signed-index trust chain, builds, and real apt-get plans the install', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, '  packages: [alpha]\n');
    const r = await buildIn(dir, m);
    const lock = await readLock(r.lockPath);
    expect(lock.artifacts.map((a) => a.id)).toEqual(['apt:alpha@1.0-1:amd64', 'apt:beta@2.1-1:amd64', 'apt:gamma@0.1-1:amd64', 'apt:postfixish@3:amd64']);
    const alpha = lock.artifacts[0]!;
    expect(alpha.purl).toBe('pkg:deb/vendor/alpha@1.0-1?arch=amd64&distro=stable');
    expect(alpha.provenance).toMatchObject({ kind: 'signed-index', signer: key.fingerprint, index: `${server.url} stable main/binary-amd64/Packages.gz` });
    expect(alpha.url).toBe(`${server.url}/pool/main/alpha_1.0-1_amd64.deb`);
    expect(alpha.meta).toMatchObject({
      pulledBy: '(requested)',
      Depends: 'beta (>= 2), mta',
      dependsOn: 'apt:beta@2.1-1:amd64 apt:gamma@0.1-1:amd64 apt:postfixish@3:amd64',
    });
    // The bytes in the bundle are the .debs dpkg reads.
    const deb = join(r.dir, 'blobs/sha256', alpha.digest.slice(7));
    expect(execFileSync('dpkg-deb', ['-f', deb, 'Package'], { encoding: 'utf8' }).trim()).toBe('alpha');

    const sbom = JSON.parse(await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8'));
    expect(await validateSbom(JSON.stringify(sbom))).toBeNull();
    const dep = sbom.dependencies.find((d: { ref: string }) => d.ref === 'apt:alpha@1.0-1:amd64');
    expect(dep.dependsOn).toEqual(['apt:beta@2.1-1:amd64', 'apt:gamma@0.1-1:amd64', 'apt:postfixish@3:amd64']);

    const why = await whyPulled(r.dir, 'gamma');
    expect(why.chain[0]).toEqual(['apt:gamma@0.1-1:amd64 ← Recommends of', 'apt:alpha@1.0-1:amd64 (requested)']);

    // The box side, for real: an isolated apt whose only source is the bundle, in simulation mode.
    const res = await installBundle({
      bundle: r.dir,
      dryRun: true,
      stateDir: join(dir, 'state'),
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    });
    const apt = res.reports.find((x) => x.kind === 'apt')!;
    expect(apt.changed.sort()).toEqual(['alpha=1.0-1', 'beta=2.1-1', 'gamma=0.1-1', 'postfixish=3']);
    expect(apt.detail).toMatch(/^Inst alpha \(1\.0-1 /m);
    // A dry run changes nothing, not even the journal.
    expect(existsSync(join(dir, 'state'))).toBe(false);
    expect(res.journal).toBeUndefined();
  });

  it('recommends: false and exclude leave packages out', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, '  packages: [alpha]\n  recommends: false\n  exclude: [postfixish]\n');
    const lock = await readLock((await buildIn(dir, m)).lockPath);
    expect(lock.artifacts.map((a) => a.name)).toEqual(['alpha', 'beta']);
  });

  it('bundles only what the target status lacks', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'status'),
      'Package: beta\nStatus: install ok installed\nVersion: 2.1-1\nArchitecture: amd64\n\nPackage: postfixish\nStatus: install ok installed\nVersion: 3\nArchitecture: amd64\nProvides: mta\n',
    );
    const m = await manifest(dir, '  packages: [alpha]\n  target-status: status\n');
    const lock = await readLock((await buildIn(dir, m)).lockPath);
    expect(lock.artifacts.map((a) => a.name)).toEqual(['alpha', 'gamma']);
  });

  it('names the missing dependency and who needs it', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, '  packages: [broken]\n');
    await expect(buildIn(dir, m)).rejects.toMatchObject({
      code: 'CLOSURE_MISSING',
      message: expect.stringMatching(/broken 1 Depends nothere \(>= 1\).*needed by: broken/),
    });
    const m2 = await manifest(dir, '  packages: [nosuch]\n');
    await expect(buildIn(dir, m2)).rejects.toMatchObject({ code: 'NOT_FOUND_IN_INDEX', message: expect.stringContaining('no package nosuch') });
  });

  it('refuses a .deb whose hash does not match the signed index', async () => {
    const dir = await tempDir();
    const root = join(dir, 'repo');
    await cp(repo, root, { recursive: true });
    const s = await serveDir(root);
    try {
      const deb = join(root, 'pool/main/gamma_0.1-1_amd64.deb');
      const bytes = await readFile(deb);
      bytes[bytes.length - 10]! ^= 0xff;
      await writeFile(deb, bytes);
      const m = join(dir, 'm.yaml');
      await writeFile(
        m,
        `name: t\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - {uri: "${s.url}", suites: [stable], components: [main], signed-by: ${key.keyring}}\n  packages: [gamma]\n`,
      );
      await expect(buildIn(dir, m)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', subject: 'apt:gamma@0.1-1:amd64' });
    } finally {
      await s.close();
    }
  });
});
