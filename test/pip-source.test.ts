import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBundle } from '../src/install/install.js';
import { readLock } from '../src/lock/lock.js';
import { validateSbom } from '../src/sbom/cyclonedx.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { startPypi } from './helpers/pypi-server.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureWheels } from './helpers/wheels.js';

// PyPI cannot be reached from here: a PEP 691/503 index on 127.0.0.1 serves wheels that the real `pip wheel`
// built from fixture projects, and the wheels Debian ships in /usr/share/python-wheels.
let wheels: string;
let pypi: Awaited<ReturnType<typeof startPypi>>;
const SYSTEM_WHEELS = '/usr/share/python-wheels';

beforeAll(async () => {
  wheels = join(fixtureWheels(), 'wheels');
  pypi = await startPypi({ dirs: [wheels, SYSTEM_WHEELS], yanked: [] });
}, 120_000);
afterAll(() => pypi.close());

async function manifest(dir: string, pip: string, python = '3.11'): Promise<string> {
  const m = join(dir, 'm.yaml');
  writeFileSync(m, `name: pip-test\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "${python}"}\npip:\n${pip}`);
  return m;
}

const names = async (lockPath: string) => (await readLock(lockPath)).artifacts.map((a) => `${a.name}==${a.version}`);

describe('pip source', () => {
  it('locks the closure from a PEP 691 index with extras and markers, and writes requirements.lock', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, `  index-url: ${pypi.url}\n  packages: ["vb-alpha[gpu]==1.0.0", "pip==23.0.1"]\n`);
    const r = await buildIn(dir, m);
    expect(await names(r.lockPath)).toEqual(['pip==23.0.1', 'vb-alpha==1.0.0', 'vb-beta==2.1.0', 'vb-gamma==0.3.2']);
    const lock = await readLock(r.lockPath);
    const alpha = lock.artifacts.find((a) => a.name === 'vb-alpha')!;
    expect(alpha).toMatchObject({
      kind: 'pip',
      purl: 'pkg:pypi/vb-alpha@1.0.0?file_name=vb_alpha-1.0.0-py3-none-any.whl',
      provenance: { kind: 'index-hash', index: pypi.url },
      meta: { filename: 'vb_alpha-1.0.0-py3-none-any.whl', pulledBy: '(requested)', dependsOn: 'pip:vb-beta@2.1.0 pip:vb-gamma@0.3.2' },
    });
    // PEP 658 metadata was used: no wheel body was fetched during resolution beyond the build's fetch.
    expect(pypi.requests.filter((x) => x.endsWith('.metadata')).length).toBeGreaterThan(0);
    const req = readFileSync(join(r.dir, 'pip/requirements.lock'), 'utf8');
    expect(req).toMatch(new RegExp(`^vb-alpha==1\\.0\\.0 \\\\\\n    --hash=sha256:${alpha.digest.slice(7)}$`, 'm'));
    const sbom = readFileSync(join(r.dir, 'sbom.cdx.json'), 'utf8');
    expect(await validateSbom(sbom)).toBeNull();
    // License from the core metadata (the fixture projects declare MIT; Debian's pip wheel has the classifier).
    const comps = JSON.parse(sbom).components as { name: string; licenses?: { license: { id?: string; name?: string } }[] }[];
    expect(comps.find((c) => c.name === 'pip')?.licenses?.[0]?.license.id).toBe('MIT');
    expect(execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: r.dir, encoding: 'utf8' })).toContain('pip/requirements.lock: OK');
  });

  it('evaluates markers for the target Python: an old Python pulls the back-port', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, `  index-url: ${pypi.url}\n  packages: ["vb-alpha==1.0.0"]\n`, '3.9');
    expect(await names((await buildIn(dir, m)).lockPath)).toEqual(['vb-alpha==1.0.0', 'vb-beta==2.1.0', 'vb-old==1.0']);
  });

  it('refuses a yanked release unless it is pinned', async () => {
    const y = await startPypi({ dirs: [wheels], yanked: ['vb_beta-2.1.0-py3-none-any.whl'] });
    try {
      const dir = await tempDir();
      // Unpinned: the yanked 2.1.0 is passed over for 1.0.0 (3.0.0rc1 is a pre-release).
      expect(await names((await buildIn(dir, await manifest(dir, `  index-url: ${y.url}\n  packages: ["vb-beta"]\n`))).lockPath)).toEqual(['vb-beta==1.0.0']);
      const d2 = await tempDir();
      expect(await names((await buildIn(d2, await manifest(d2, `  index-url: ${y.url}\n  packages: ["vb-beta==2.1.0"]\n`))).lockPath)).toEqual([
        'vb-beta==2.1.0',
      ]);
    } finally {
      await y.close();
    }
  });

  it('reads the PEP 503 HTML page and wheels without PEP 658 metadata', async () => {
    const html = await startPypi({ dirs: [wheels], htmlOnly: true, metadata: false });
    try {
      const dir = await tempDir();
      const m = await manifest(dir, `  index-url: ${html.url}\n  packages: ["vb-gamma"]\n`);
      expect(await names((await buildIn(dir, m)).lockPath)).toEqual(['vb-beta==2.1.0', 'vb-gamma==0.3.2']);
    } finally {
      await html.close();
    }
  });

  it('takes wheels from a local find-links folder with no index', async () => {
    const dir = await tempDir();
    const m = await manifest(dir, `  no-index: true\n  find-links: [${wheels}]\n  packages: ["vb-alpha"]\n`);
    const lock = await readLock((await buildIn(dir, m)).lockPath);
    expect(lock.artifacts.map((a) => a.name)).toEqual(['vb-alpha', 'vb-beta']);
    expect(lock.artifacts[0]!.provenance.kind).toBe('manifest-pin');
  });

  it('the real pip installs the bundle into a fresh venv with no index, and the packages import', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const m = await manifest(dir, `  index-url: ${pypi.url}\n  packages: ["vb-alpha[gpu]==1.0.0"]\n  venv: ${venv}\n`);
    const r = await buildIn(dir, m);
    const run = (dryRun: boolean) =>
      installBundle({
        bundle: r.dir,
        dryRun,
        stateDir: join(dir, 'state'),
        only: ['pip'],
        exec: execFile,
        report: () => {},
        signal: new AbortController().signal,
      });
    const first = await run(false);
    expect(first.reports[0]!.changed).toEqual(expect.arrayContaining([`venv ${venv}`, 'vb-alpha==1.0.0', 'vb-beta==2.1.0', 'vb-gamma==0.3.2']));
    expect(execFileSync(join(venv, 'bin/python'), ['-c', 'import vb_alpha, vb_beta, vb_gamma; print(vb_beta.VERSION)'], { encoding: 'utf8' }).trim()).toBe(
      '2.1.0',
    );
    const again = await run(false);
    expect(again.reports[0]!.changed).toEqual([]);
  }, 180_000);

  it('refuses a tampered wheel, a wrong --hash pin, a missing dependency and a wheel for another platform', async () => {
    const bad = await startPypi({ dirs: [wheels], tamper: ['vb_beta-2.1.0-py3-none-any.whl'] });
    try {
      const dir = await tempDir();
      const m = await manifest(dir, `  index-url: ${bad.url}\n  packages: ["vb-beta==2.1.0"]\n`);
      await expect(buildIn(dir, m)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', subject: 'pip:vb-beta@2.1.0' });
    } finally {
      await bad.close();
    }
    const dir = await tempDir();
    writeFileSync(join(dir, 'req.txt'), `vb-beta==2.1.0 --hash=sha256:${'0'.repeat(64)}\n`);
    await expect(buildIn(dir, await manifest(dir, `  index-url: ${pypi.url}\n  requirements: req.txt\n`))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(buildIn(dir, await manifest(dir, `  index-url: ${pypi.url}\n  packages: ["vb-broken"]\n`))).rejects.toMatchObject({
      code: 'NOT_FOUND_IN_INDEX',
      message: expect.stringMatching(/vb-missing.*needed by vb-broken==1\.0/),
    });
    // Only a Windows wheel and an sdist: no wheel for the target, said clearly.
    const odd = mkdtempSync(join(tmpdir(), 'vb-odd-'));
    try {
      cpSync(join(wheels, 'vb_old-1.0-py3-none-any.whl'), join(odd, 'vb_odd-1.0-cp312-cp312-win_amd64.whl'));
      writeFileSync(join(odd, 'vb_odd-2.0.tar.gz'), 'sdist');
      renameSync(join(odd, 'vb_odd-2.0.tar.gz'), join(odd, 'vb-odd-2.0.tar.gz'));
      const s = await startPypi({ dirs: [odd] });
      try {
        const d2 = await tempDir();
        const err = await buildIn(d2, await manifest(d2, `  index-url: ${s.url}\n  packages: ["vb-odd"]\n`, '3.12')).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'NOT_FOUND_IN_INDEX', hint: expect.stringContaining('wheels only') });
        expect(String((err as Error).message)).toMatch(/no wheel for the target/);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(odd, { recursive: true, force: true });
    }
  });
});
