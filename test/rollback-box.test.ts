import { execFile as execFileCb, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels } from '../tools/tiny-model/make-tiny.js';
import { makeKey, makeRepo } from './helpers/apt-repo.js';
import { runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { canMakeRootfs, copyRootfs, inRoot, removeRootfs, rootfsCacheDir } from './helpers/rootfs.js';
import { fixtureWheels } from './helpers/wheels.js';

const execFile = promisify(execFileCb);

/**
 * Rollback for real: a throwaway root (a copy of the cached debootstrap minbase of this machine's release, with
 * its own dpkg and apt; no network inside) gets bundle v1 (a tiny deb of ours, `hello` from the mirror, pip and a
 * wheel, a tiny model, a file), then v2 (the deb upgraded with a new dependency, a newer wheel, a newer model
 * commit, a changed file), then `rollback`, all through the bundle's own `./vault-bundle` with the carried node:
 * the box must equal what v1 left, dpkg to the auto flags.
 */
const READY = await canMakeRootfs();
if (!READY) console.warn('rollback-box.test.ts: skipped: needs root, debootstrap, unshare and a Debian mirror in /etc/apt/sources.list.d');

let work = '';
let root = '';
const KILL_FLAG = '/tmp/vb-kill-during-preinst';
const KILL_REACHED = '/tmp/vb-preinst-reached';

/** v2's vbtest waits in its preinst when the test asks (the flag file), so the install can be killed inside dpkg. */
const PREINST = `#!/bin/sh\nif [ -e ${KILL_FLAG} ]; then touch ${KILL_REACHED}; sleep 300; fi\nexit 0\n`;

async function manifest(dir: string, v: 1 | 2, o: { repo: string; keyring: string; wheels: string; model: string; py: string }): Promise<string> {
  const motd = Buffer.from(`vault-ai rollback test v${v}\n`);
  await writeFile(join(dir, `motd-${v}.txt`), motd);
  const os = await readFile('/etc/os-release', 'utf8');
  const id = /^ID=(.*)$/m.exec(os)![1]!.replace(/"/g, '');
  const ver = /^VERSION_ID=(.*)$/m.exec(os)![1]!.replace(/"/g, '');
  const m = join(dir, `v${v}.yaml`);
  await writeFile(
    m,
    [
      'name: rb-box',
      `version: 1.${v}.0`,
      `target: { os: ${id}-${ver}, arch: amd64, python: "${o.py}" }`,
      'files:',
      '  - name: motd',
      `    path: ${join(dir, `motd-${v}.txt`)}`,
      `    sha256: ${sha256(motd)}`,
      '    install: { dest: /etc/vault-ai/motd.txt }',
      'apt:',
      '  sources:',
      '    - system: true',
      `    - { uri: "file://${o.repo}", suites: [stable], components: [main], signed-by: ${o.keyring} }`,
      `  packages: [hello, vbtest=${v}.0]`,
      `  target-status: ${join(root, 'var/lib/dpkg/status')}`,
      'pip:',
      '  no-index: true',
      `  find-links: [/usr/share/python-wheels, ${o.wheels}]`,
      `  packages: [pip==23.0.1, vb-beta==${v === 1 ? '1.0.0' : '2.1.0'}]`,
      `  python: "${o.py}"`,
      'hf:',
      '  models:',
      '    - repo: vault-ai/tiny-gpt2',
      `      local: ${o.model}`,
      '',
    ].join('\n'),
  );
  return m;
}

/** What the box has that a rollback must restore: dpkg (every package) and apt's auto flags, the venv, model refs, the file, the stamp. */
async function boxState(): Promise<Record<string, string>> {
  const q = await inRoot(root, ['dpkg-query', '-W', '-f', '${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n']);
  const auto = await inRoot(root, ['apt-mark', 'showauto']);
  const lib = join(root, 'opt/vault-ai/venv/lib');
  const site = (await readdir(lib).catch(() => [] as string[])).map((d) => join(lib, d, 'site-packages'))[0];
  const dists = site ? (await readdir(site)).filter((d) => d.endsWith('.dist-info')).sort() : [];
  const refsDir = join(root, 'opt/vault-ai/models/hub/models--vault-ai--tiny-gpt2/refs');
  const refs = await readFile(join(refsDir, 'main'), 'utf8').catch(() => '(none)');
  const bytes = async (p: string) =>
    readFile(join(root, p)).then(
      (b) => createHash('sha256').update(b).digest('hex'),
      () => '(none)',
    );
  return {
    dpkg: q.stdout,
    auto: auto.stdout,
    dists: dists.join('\n'),
    refs,
    motd: await bytes('etc/vault-ai/motd.txt'),
    stamp: await bytes('etc/vault-ai/image-version.json'),
  };
}

const vb = (args: string[]) => inRoot(root, ['sh', '/srv/v2/vault-bundle', ...args]);
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  if (!READY) return;
  work = await mkdtemp(join(tmpdir(), 'vb-rollback-box-'));
  root = await copyRootfs(join(rootfsCacheDir(), 'boxes', `${process.pid}-rollback`));
  const key = await makeKey(work, 'Rollback Repo');
  const repo = join(work, 'repo');
  await makeRepo(repo, {
    key,
    packages: [
      { name: 'vbtest', version: '1.0', payload: 'one\n' },
      { name: 'vbtest', version: '2.0', payload: 'two\n', depends: 'vbextra', preinst: PREINST },
      { name: 'vbextra', version: '1.0' },
    ],
  });
  const wheels = join(fixtureWheels(), 'wheels');
  const py = (await execFile('python3', ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'])).stdout.trim();
  const models = join(work, 'models');
  await makeTinyModels(models);
  const model2 = join(work, 'model-2');
  await cp(join(models, 'tiny-gpt2'), model2, { recursive: true });
  await writeFile(join(model2, 'README.md'), `${await readFile(join(model2, 'README.md'), 'utf8').catch(() => '')}\nrevision 2\n`);
  const o = { repo, keyring: key.keyring, wheels, py };
  for (const v of [1, 2] as const) {
    const m = await manifest(work, v, { ...o, model: v === 1 ? join(models, 'tiny-gpt2') : model2 });
    const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', m, '--out', join(root, 'srv', `v${v}`), '--runtime', 'host']);
    if (b.code !== 0) throw new Error(`build v${v} failed: ${b.stderr}`);
  }
}, 900_000);

afterAll(async () => {
  if (root) await removeRootfs(root);
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe.skipIf(!READY)('rollback on a box with real dpkg', () => {
  let v1: Record<string, string>;
  let v2: Record<string, string>;

  it('installs v1 (keeping its blobs) and v2; history records apt plan of v2: the upgrade and the new dependency', async () => {
    const i1 = await vb(['install', '/srv/v1', '--keep-blobs']);
    expect(i1.code, i1.stderr).toBe(0);
    v1 = await boxState();
    expect(v1.dpkg).toMatch(/^vbtest:amd64 1\.0 ii $/m);
    expect(v1.dists).toContain('vb_beta-1.0.0.dist-info');
    const dry = await vb(['install', '/srv/v2', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('dry run: install of rb-box 1.2.0 over rb-box 1.1.0');
    expect(dry.stdout).toContain('  apt: vbtest:amd64 1.0 -> 2.0');
    expect(dry.stdout).toContain('  apt: vbextra:amd64 (not installed) -> 1.0');
    expect(dry.stdout).toContain('  pip: vb-beta 1.0.0 -> 2.1.0');
    const i2 = await vb(['install', '/srv/v2']);
    expect(i2.code, i2.stderr).toBe(0);
    v2 = await boxState();
    expect(v2.dpkg).toMatch(/^vbtest:amd64 2\.0 ii $/m);
    expect(v2.dpkg).toMatch(/^vbextra:amd64 1\.0 ii $/m);
    expect(v2.auto).toMatch(/^vbextra$/m);
    for (const k of ['dists', 'refs', 'motd', 'stamp']) expect(v2[k], k).not.toBe(v1[k]);
    const h = await vb(['--json', 'history']);
    const rec = (JSON.parse(h.stdout) as { records: { bundle: { version: string }; aptFrom: string; apt: unknown[] }[] }).records.at(-1)!;
    expect(rec).toMatchObject({ bundle: { version: '1.2.0' }, aptFrom: 'apt-get -s' });
    expect(rec.apt).toEqual(
      expect.arrayContaining([
        { package: 'vbtest', arch: 'amd64', before: '1.0', auto: false, after: '2.0' },
        { package: 'vbextra', arch: 'amd64', before: null, auto: false, after: '1.0' },
      ]),
    );
  }, 600_000);

  it('plans the way back (the journal locates v1); refuses with v1 and the kept blobs gone, changing nothing', async () => {
    const dry = await vb(['--json', 'rollback', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { from: string; to: string; steps: { kind: string; what: string; from: string; to: string }[]; missing: string[] };
    expect(plan).toMatchObject({ from: '/srv/v1', to: '1.1.0', missing: [] });
    expect(plan.steps).toEqual(
      expect.arrayContaining([
        { kind: 'apt', what: 'vbtest:amd64', from: '2.0', to: '1.0' },
        { kind: 'apt', what: 'vbextra:amd64', from: '1.0', to: '(removed, unless something else needs it)' },
        { kind: 'pip', what: 'vb-beta', from: '2.1.0', to: '1.0.0' },
        expect.objectContaining({ kind: 'hf', what: 'vault-ai/tiny-gpt2@main' }),
        expect.objectContaining({ kind: 'file', what: '/etc/vault-ai/motd.txt' }),
        { kind: 'stamp', what: '/etc/vault-ai/image-version.json', from: '1.2.0', to: '1.1.0' },
      ]),
    );
    const text = await vb(['rollback', '--dry-run']);
    expect(text.stdout).toContain('dry run: rollback of rb-box 1.2.0 to 1.1.0\n  apt: vbtest:amd64 2.0 -> 1.0');
    await rename(join(root, 'srv/v1'), join(root, 'srv/v1-away'));
    await rename(join(root, 'var/lib/vault-bundle/kept'), join(root, 'var/lib/vault-bundle/kept-away'));
    const r = await vb(['rollback']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('needs what this box no longer has');
    expect(r.stderr).toMatch(/apt vbtest=1\.0 \(amd64\): from rb-box 1\.1\.0; looked in: \/srv\/v1: .*no such bundle/);
    expect(r.stderr).toContain('pip vb-beta==1.0.0');
    expect(r.stderr).toContain('/var/lib/vault-bundle/kept/');
    expect(await boxState()).toEqual(v2);
  }, 300_000);

  it('rolls back from the kept blobs: dpkg, auto flags, venv, model ref, file and stamp equal v1; again: nothing to do', async () => {
    await rename(join(root, 'var/lib/vault-bundle/kept-away'), join(root, 'var/lib/vault-bundle/kept'));
    const r = await vb(['rollback']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rollback of rb-box 1.2.0 to 1.1.0');
    expect(await boxState()).toEqual(v1);
    const again = await vb(['rollback']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to do');
    const journal = await readFile(join(root, 'var/lib/vault-bundle/journal.jsonl'), 'utf8');
    expect(journal).toMatch(/"rollback":\{"from":"1\.2\.0".*"bundle":"\/var\/lib\/vault-bundle\/kept\/[0-9a-f]{64}"/);
  }, 300_000);

  it('v2 killed inside dpkg (its preinst), then rollback --bundle: the box is at v1 again', async () => {
    await rm(join(root, 'var/lib/vault-bundle/kept'), { recursive: true, force: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, KILL_FLAG), '');
    // The whole box's process tree dies at once (its PID namespace's init killed), as with a power cut.
    const p = spawn(
      'unshare',
      ['--net', '--mount', '--pid', '--fork', `--mount-proc=${join(root, 'proc')}`, 'chroot', root, 'sh', '/srv/v2/vault-bundle', 'install', '/srv/v2'],
      {
        stdio: 'ignore',
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' },
      },
    );
    const closed = new Promise((done) => p.on('close', done));
    const t0 = Date.now();
    while (!(await exists(join(root, KILL_REACHED))) && Date.now() - t0 < 240_000) await new Promise((r) => setTimeout(r, 200));
    expect(await exists(join(root, KILL_REACHED))).toBe(true);
    await execFile('pkill', ['-KILL', '-P', String(p.pid)]);
    await closed;
    await rm(join(root, KILL_FLAG));
    const mid = await boxState();
    expect(mid).not.toEqual(v1);
    const plan = await vb(['rollback', '--dry-run', '--bundle', '/srv/v1-away']);
    const r = await vb(['rollback', '--bundle', '/srv/v1-away']);
    const why = `box when killed: ${mid
      .dpkg!.split('\n')
      .filter((l) => l.startsWith('vb'))
      .join(', ')} auto ${mid.auto}\n${plan.stdout}\n${r.stdout}\n${r.stderr}`;
    expect(r.code, why).toBe(0);
    expect(await boxState(), why).toEqual(v1);
    expect((await vb(['rollback', '--bundle', '/srv/v1-away'])).stdout).toContain('nothing to do');
  }, 600_000);
});
