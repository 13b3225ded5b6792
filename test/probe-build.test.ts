import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from '../src/bundle/publish.js';
import { installBundle } from '../src/install/install.js';
import { lockManifest } from '../src/lock/for-build.js';
import { makeBuildCtx } from '../src/context.js';
import type { LoadedManifest } from '../src/manifest/load.js';
import { collectProbe } from '../src/probe/collect.js';
import { loadProbe, probeDpkgStatus } from '../src/probe/load.js';
import { serializeProbe } from '../src/box/probe.js';
import { parseStatus } from '../src/sources/apt/records.js';
import { tinyModel } from '../tools/tiny-model/index.js';
import { execFile } from '../src/util/exec.js';
import type { VaultEvent } from '../src/util/events.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './helpers/apt-repo.js';
import { ISO_COMPONENTS, aptIso, aptIsoWithStatus, aptPlan } from './helpers/apt-iso.js';
import { startHub, type HubServer } from './helpers/hub-server.js';
import { startPypi } from './helpers/pypi-server.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureWheels } from './helpers/wheels.js';

/** Probes this machine into <dir>/box.json (the venv and HF cache given, or none). */
async function probeFile(dir: string, o: { venv?: string; hfHome?: string; name?: string } = {}): Promise<string> {
  const p = await collectProbe({
    exec: execFile,
    venv: o.venv ?? join(dir, 'no-venv'),
    hfHome: o.hfHome ?? join(dir, 'no-models'),
    stateDirs: [join(dir, 'state')],
  });
  const path = join(dir, o.name ?? 'box.json');
  await writeFile(path, serializeProbe(p));
  return path;
}

/** Builds through the library, each build with its own lock and output. */
async function build(dir: string, manifest: string, name: string, target?: string) {
  const events: VaultEvent[] = [];
  const ctxFor = (m: LoadedManifest) =>
    makeBuildCtx({
      cacheDir: join(dir, 'cache'),
      report: (e) => events.push(e),
      signal: new AbortController().signal,
      manifestPath: m.path,
      baseDir: m.dir,
      target: m.manifest.target,
    });
  const r = await buildBundle(
    { manifest, out: join(dir, name), lock: join(dir, `${name}.lock.json`), frozen: false, concurrency: 4, ...(target ? { target } : {}) },
    ctxFor,
  );
  const index = JSON.parse(await readFile(join(r.dir, 'bundle.json'), 'utf8')) as { target: Record<string, unknown>; artifacts: { id: string }[] };
  const sbom = JSON.parse(await readFile(join(r.dir, 'sbom.cdx.json'), 'utf8')) as { components: { 'bom-ref': string; name: string }[] };
  return { ...r, events, index, sbom, ids: r.lock.artifacts.map((a) => a.id) };
}

const messages = (events: VaultEvent[]) => events.flatMap((e) => (e.type === 'info' || e.type === 'warn' ? [e.message] : []));

describe('build --target: apt', () => {
  let work: string;
  let key: SigningKey;
  let server: Awaited<ReturnType<typeof serveDir>>;
  // Real packages of this machine, at the versions installed here, in a signed repository with a new tool that needs them.
  const here = new Map<string, string>();

  beforeAll(async () => {
    work = await tempDir('vb-probe-apt');
    for (const r of await parseStatus(createReadStream('/var/lib/dpkg/status')))
      if (r.architecture === 'amd64' || r.architecture === 'all') here.set(r.package, r.version);
    key = await makeKey(work);
    await makeRepo(join(work, 'repo'), {
      key,
      packages: [
        { name: 'vb-newtool', version: '1.0-1', depends: `coreutils (>= ${here.get('coreutils')}), base-files, vb-extra` },
        { name: 'coreutils', version: here.get('coreutils')! },
        { name: 'base-files', version: here.get('base-files')! },
        { name: 'vb-extra', version: '2.0-1', depends: 'dpkg' },
        { name: 'dpkg', version: here.get('dpkg')! },
      ],
    });
    server = await serveDir(join(work, 'repo'));
  });
  afterAll(() => server?.close());

  it('a probe of this machine leaves out what its dpkg status has; bundle.json names the box; the lock is stale for another box', async () => {
    const dir = await tempDir();
    const m = join(dir, 'm.yaml');
    await writeFile(
      m,
      `name: apt-probe\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - uri: ${server.url}\n      suites: [stable]\n      components: [main]\n      signed-by: ${key.keyring}\n  packages: [vb-newtool]\n  target-status: nowhere.status\n`,
    );
    const box = await probeFile(dir);
    await writeFile(m, (await readFile(m, 'utf8')).replace('  target-status: nowhere.status\n', ''));
    const empty = await build(dir, m, 'empty');
    expect(empty.ids).toEqual([
      `apt:base-files@${here.get('base-files')}:amd64`,
      `apt:coreutils@${here.get('coreutils')}:amd64`,
      `apt:dpkg@${here.get('dpkg')}:amd64`,
      'apt:vb-extra@2.0-1:amd64',
      'apt:vb-newtool@1.0-1:amd64',
    ]);

    // The probe is the target's dpkg status: a target-status in the manifest is not read.
    await writeFile(m, `${await readFile(m, 'utf8')}  target-status: nowhere.status\n`);
    const lean = await build(dir, m, 'lean', box);
    expect(lean.ids).toEqual(['apt:vb-extra@2.0-1:amd64', 'apt:vb-newtool@1.0-1:amd64']);
    expect(messages(lean.events)).toContain(
      `apt: the probe of ${lean.lock.target.probe!.hostname} is the target's dpkg status; target-status nowhere.status is not read`,
    );
    // The SBOM and bundle.json list only what is bundled; bundle.json names the box.
    expect(lean.index.artifacts.map((a) => a.id)).toEqual(lean.ids);
    expect(lean.sbom.components.map((c) => c.name).sort()).toEqual(['vb-extra', 'vb-newtool']);
    const digest = `sha256:${execFileSync('sha256sum', [box], { encoding: 'utf8' }).split(' ')[0]}`;
    expect(lean.index.target).toMatchObject({ os: 'debian-12', arch: 'amd64', probe: { digest, hostname: hostname() } });
    expect(lean.lock.target.probe).toEqual(lean.index.target.probe);
    expect(execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: lean.dir, encoding: 'utf8' })).toContain('bundle.json: OK');

    // The lock made for this box: stale without --target, stale for another box, fresh for a new probe of the same box.
    const stale = (target?: string) =>
      build(dir, m, 'lean', target).then(
        () => undefined,
        (e: Error & { code?: string; hint?: string }) => e,
      );
    expect(await stale()).toMatchObject({ code: 'LOCK_STALE', message: expect.stringContaining('no --target') });
    const other = JSON.parse(await readFile(box, 'utf8'));
    other.hostname = 'gpu-07';
    other.venv = { present: true, path: '/opt/vault-ai/venv', python: '/opt/vault-ai/venv/bin/python', distributions: [{ name: 'torch', version: '2.5.1' }] };
    await writeFile(join(dir, 'other.json'), JSON.stringify(other));
    expect(await stale(join(dir, 'other.json'))).toMatchObject({
      code: 'LOCK_STALE',
      message: expect.stringContaining('another box (gpu-07'),
      hint: expect.stringContaining('--target'),
    });
    const again = await probeFile(dir, { name: 'again.json' });
    expect(await stale(again)).toBeUndefined();
    // The lock made for an empty box (a plain build) is locked again for the box of --target, as build re-locks a
    // changed manifest (it was LOCK_STALE "resolved for an empty box"); not with --locked.
    const relocked = await build(dir, m, 'empty', box);
    expect(relocked.ids).toEqual(lean.ids);
    expect(relocked.lock.target.probe).toEqual(lean.lock.target.probe);
    expect(messages(relocked.events)).toContainEqual(
      expect.stringMatching(new RegExp(`empty\\.lock\\.json: it was resolved for an empty box; locked again for the probe of ${hostname()} \\(--target\\)$`)),
    );
  });
});

describe('build --target: apt on the real Debian mirror', () => {
  it("this machine's probe locks what the real apt-get would install given the probe's dpkg status, less than for an empty box", async (t) => {
    const base = await aptIso();
    if (!base) return t.skip();
    const dir = await tempDir();
    const lockOf = async (name: string, target?: string) => {
      const m = join(dir, `${name}.yaml`);
      await writeFile(
        m,
        `name: mirror\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - system: true\n      components: [${ISO_COMPONENTS.join(', ')}]\n  packages: [jq, python3-numpy]\n`,
      );
      const ctxFor = (lm: LoadedManifest) =>
        makeBuildCtx({
          cacheDir: join(tmpdir(), 'vault-bundle-test-cache'),
          report: () => {},
          signal: new AbortController().signal,
          manifestPath: lm.path,
          baseDir: lm.dir,
          target: lm.manifest.target,
        });
      const r = await lockManifest({ manifest: m, ...(target ? { target } : {}) }, ctxFor);
      return r.lock.artifacts.map((a) => `${a.name}=${a.version}`).sort();
    };
    const box = await probeFile(dir);
    const probe = (await loadProbe(box)).probe;
    const probed = await lockOf('probed', box);
    // apt-get itself, with the probe's reduced dpkg status as the system's.
    expect(probed).toEqual(await aptPlan(await aptIsoWithStatus(base, 'probe', probeDpkgStatus(probe)!), ['jq', 'python3-numpy']));
    const empty = await lockOf('empty');
    // What this machine has at the candidate version is left out (an older jq here is upgraded, as apt would).
    const here = new Set((await parseStatus(createReadStream('/var/lib/dpkg/status'))).map((r) => `${r.package}=${r.version}`));
    expect(empty.filter((a) => here.has(a)).length).toBeGreaterThan(10);
    expect(probed.filter((a) => here.has(a))).toEqual([]);
    expect(probed.length).toBeLessThan(empty.length);
  }, 180_000);
});

describe('build --target: pip', () => {
  let pypi: Awaited<ReturnType<typeof startPypi>>;
  beforeAll(async () => {
    pypi = await startPypi({ dirs: [join(fixtureWheels(), 'wheels'), '/usr/share/python-wheels'] });
  }, 120_000);
  afterAll(() => pypi?.close());

  it('leaves out what the probed venv has at exactly the locked version; requirements.lock does not list it; pip on the box installs the rest', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const wheels = join(fixtureWheels(), 'wheels');
    execFileSync('/usr/bin/python3', ['-m', 'venv', venv]);
    // vb-beta 2.1.0 is what the lock picks; vb-old is there at a version nobody asks for.
    execFileSync(join(venv, 'bin/python'), [
      '-m',
      'pip',
      'install',
      '-q',
      '--no-index',
      '--no-deps',
      join(wheels, 'vb_beta-2.1.0-py3-none-any.whl'),
      join(wheels, 'vb_old-1.0-py3-none-any.whl'),
    ]);
    const pipVersion = execFileSync(join(venv, 'bin/python'), ['-c', 'import pip; print(pip.__version__)'], { encoding: 'utf8' }).trim();
    const box = await probeFile(dir, { venv });
    const m = join(dir, 'm.yaml');
    await writeFile(
      m,
      `name: pip-probe\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "3.11"}\npip:\n  index-url: ${pypi.url}\n  packages: ["vb-alpha[gpu]==1.0.0", "pip==${pipVersion}"]\n  venv: ${venv}\n`,
    );
    const all = await build(dir, m, 'all');
    expect(all.ids).toEqual([`pip:pip@${pipVersion}`, 'pip:vb-alpha@1.0.0', 'pip:vb-beta@2.1.0', 'pip:vb-gamma@0.3.2']);
    const lean = await build(dir, m, 'lean', box);
    expect(lean.ids).toEqual(['pip:vb-alpha@1.0.0', 'pip:vb-gamma@0.3.2']);
    expect(messages(lean.events)).toContain(`pip: ${venv} on ${lean.lock.target.probe!.hostname} already has pip==${pipVersion}, vb-beta==2.1.0; left out`);
    const req = readFileSync(join(lean.dir, 'pip/requirements.lock'), 'utf8');
    expect(req).toMatch(/^vb-alpha==1\.0\.0 /m);
    expect(req).not.toMatch(/^(vb-beta|pip)==/m);
    expect(lean.sbom.components.map((c) => c.name).sort()).toEqual(['vb-alpha', 'vb-gamma']);
    // The box's own pip, with --require-hashes, takes the requirements without the wheels it already has.
    const res = await installBundle({
      bundle: lean.dir,
      dryRun: false,
      stateDir: join(dir, 'state'),
      only: ['pip'],
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    });
    expect(res.reports[0]!.changed.sort()).toEqual(['vb-alpha==1.0.0', 'vb-gamma==0.3.2']);
    expect(execFileSync(join(venv, 'bin/python'), ['-c', 'import vb_alpha, vb_gamma, vb_beta; print(vb_beta.VERSION)'], { encoding: 'utf8' }).trim()).toBe(
      '2.1.0',
    );
  }, 180_000);

  it("takes the wheel tags from the probe, and refuses a probe of another Python than pip's target", async () => {
    const dir = await tempDir();
    const box = JSON.parse(await readFile(await probeFile(dir), 'utf8'));
    // A box whose python accepts only pure-Python wheels of an older tag set still gets a wheel (py3-none-any).
    box.python.tags = ['py3-none-any'];
    await writeFile(join(dir, 'narrow.json'), JSON.stringify(box));
    const m = join(dir, 'm.yaml');
    await writeFile(
      m,
      `name: pip-tags\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "3.11"}\npip:\n  index-url: ${pypi.url}\n  packages: ["vb-gamma==0.3.2"]\n`,
    );
    expect((await build(dir, m, 'narrow', join(dir, 'narrow.json'))).ids).toEqual(['pip:vb-beta@2.1.0', 'pip:vb-gamma@0.3.2']);
    box.python.tags = ['cp311-cp311-manylinux_2_36_x86_64'];
    await writeFile(join(dir, 'none.json'), JSON.stringify(box));
    expect(await build(dir, m, 'none', join(dir, 'none.json')).catch((e: Error) => e)).toMatchObject({
      code: 'NOT_FOUND_IN_INDEX',
      message: expect.stringContaining('no wheel for the target (cp311-cp311-manylinux_2_36_x86_64'),
    });
    await writeFile(m, (await readFile(m, 'utf8')).replace('  packages:', '  python: "3.12"\n  packages:'));
    expect(await build(dir, m, 'py312', join(dir, 'narrow.json')).catch((e: Error) => e)).toMatchObject({
      code: 'MANIFEST_FIELD',
      subject: 'pip.python',
      message: expect.stringContaining('pip targets Python 3.12, the probed box'),
    });
  });
});

describe('build --target: hf', () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHub({
      repos: [
        { id: 'tiny/gpt2', files: tinyModel({ arch: 'gpt2', seed: 1 }).files },
        { id: 'tiny/other', files: tinyModel({ arch: 'gpt2', seed: 2 }).files },
      ],
    });
  });
  afterAll(() => hub?.close());

  it("leaves out a model whose snapshot the box's cache holds, bundles the one it lacks", async () => {
    const dir = await tempDir();
    const home = join(dir, 'models');
    const m = join(dir, 'm.yaml');
    const yaml = (repos: string[]) =>
      `name: hf-probe\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\nhf:\n  endpoint: ${hub.url}\n  home: ${home}\n  models:\n${repos.map((r) => `    - repo: ${r}\n`).join('')}`;
    await writeFile(m, yaml(['tiny/gpt2']));
    const first = await build(dir, m, 'first');
    await installBundle({
      bundle: first.dir,
      dryRun: false,
      stateDir: join(dir, 'state'),
      only: ['hf'],
      profile: join(dir, 'profile.sh'),
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    });
    const box = await probeFile(dir, { hfHome: home });
    const probe = JSON.parse(await readFile(box, 'utf8'));
    expect(probe.bundles).toMatchObject({ present: true, installed: [{ name: 'hf-probe', version: '1.0.0' }] });

    await writeFile(m, yaml(['tiny/gpt2', 'tiny/other']));
    const all = await build(dir, m, 'all');
    const lean = await build(dir, m, 'lean', box);
    const gpt2 = hub.repo('tiny/gpt2').commit;
    const other = hub.repo('tiny/other').commit;
    expect(new Set(all.lock.artifacts.map((a) => a.version))).toEqual(new Set([gpt2, other]));
    expect(lean.lock.artifacts.map((a) => a.version)).toEqual(lean.lock.artifacts.map(() => other));
    expect(lean.lock.artifacts.length).toBe(hub.repo('tiny/other').files.size);
    expect(messages(lean.events)).toContain(`hf: ${home} on ${lean.lock.target.probe!.hostname} already has tiny/gpt2@${gpt2}; left out`);
    expect(lean.sbom.components.filter((c) => (c as { type?: string }).type === 'machine-learning-model').map((c) => c.name)).toEqual(['other']);

    // A snapshot missing a file the lock wants (an interrupted download) is not "present".
    const snap = probe.hf.repos.find((r: { repo: string }) => r.repo === 'tiny/gpt2').snapshots[0];
    snap.files = snap.files.filter((f: string) => f !== 'config.json');
    await writeFile(join(dir, 'partial.json'), JSON.stringify(probe));
    expect((await build(dir, m, 'partial', join(dir, 'partial.json'))).ids.length).toBe(all.ids.length);
  });
});
