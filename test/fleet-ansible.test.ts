import { type ChildProcess, execFile as execFileCb, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetSummary } from '../src/fleet/summary.js';
import type { AccessLine } from '../src/site/server.js';
import { BIN, REPO, runCli } from './helpers/cli.js';
import { type Fleet, fleetReady, makeFleet } from './helpers/fleet-boxes.js';
import { inRoot } from './helpers/rootfs.js';
import { tempDir } from './helpers/tmp.js';
import { signalChild } from '../src/util/proc.js';

const execFile = promisify(execFileCb);

/**
 * The fleet role for real: three boxes (each a copy of a debootstrap minbase with its own sshd on its own
 * 127.0.0.x, key-only, no network inside), ansible-playbook rolling one bundle (apt, wheels, a tiny model, a
 * file) out to all three, then the fleet page from what it fetched. box1 and box3 get the bundle from the
 * controller (rollout_src); box2 sits on a link to this machine, where `vault-bundle serve` serves the bundle,
 * and pulls it from there (rollout_url): the same play, so the served path costs no extra run.
 */
const READY = await fleetReady();
if (!READY) console.warn('fleet-ansible.test.ts: skipped: needs root, ansible, openssh-server, debootstrap and a Debian mirror in /etc/apt/sources.list.d');

const NAMES = ['box1', 'box2', 'box3'];
let f: Fleet;
let work = '';
let bundle = '';
let roots: string[] = [];
let serve: ChildProcess | undefined;
let served = '';
let accessLog = '';
/** Host variables of the default inventory: box2 pulls from the served URL instead of the controller's folder. */
let viaUrl: Record<string, string> = {};
const play = (o?: Parameters<Fleet['play']>[0]) => f.play(o);
const digestOf = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

beforeAll(async () => {
  if (!READY) return;
  f = await makeFleet(3, { linked: ['box2'] });
  ({ work, bundle, roots } = f);
  accessLog = join(work, 'serve-access.jsonl');
  serve = spawn(process.execPath, [BIN, 'serve', bundle, '--listen', `${f.links.box2!.host}:0`, '--access-log', accessLog], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  served = await new Promise<string>((done, fail) => {
    let out = '';
    serve!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = / on (http:\/\/\S+); Ctrl-C stops/.exec(out);
      if (m) done(m[1]!);
    });
    serve!.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    serve!.on('exit', (code) => fail(new Error(`serve exited ${code}: ${out}`)));
  });
  viaUrl = { box2: `rollout_src='' rollout_url=${served}/` };
  await f.inventory(join(work, 'inventory.ini'), viaUrl);
}, 600_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    const gone = new Promise((r) => serve!.once('exit', r));
    signalChild(serve, 'SIGINT');
    await gone;
  }
  await f?.dispose();
}, 120_000);

describe.skipIf(!READY)('the vault_ai.bundle rollout role on three boxes over SSH', () => {
  it('installs exactly the bundle on all three, smoke fails gpu.inventory on each, and the fleet page says so', async () => {
    const t = Date.now();
    const r = await play();
    console.log(`fleet-ansible: first rollout to 3 boxes ${((Date.now() - t) / 1000).toFixed(1)} s`);
    expect(Object.keys(r.recap).sort(), r.out).toEqual(NAMES);
    const index = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as { artifacts: { kind: string; name: string; version: string }[] };
    for (const [i, n] of NAMES.entries()) {
      expect(r.recap[n], r.out).toMatchObject({ failed: 1, unreachable: 0 });
      expect(r.recap[n]!.changed).toBeGreaterThan(0);
      const root = roots[i]!;
      for (const a of index.artifacts.filter((x) => x.kind === 'apt')) {
        const q = await inRoot(root, ['dpkg-query', '-W', '-f', '${Version} ${db:Status-Abbrev}', a.name]);
        expect(q.stdout.trim(), `${n} ${a.name}`).toBe(`${a.version} ii`);
      }
      const site = (await readdir(join(root, 'opt/vault-ai/venv/lib'))).map((d) => join(root, 'opt/vault-ai/venv/lib', d, 'site-packages'))[0]!;
      const dists = (await readdir(site)).filter((d) => d.endsWith('.dist-info')).sort();
      expect(dists).toEqual(
        index.artifacts
          .filter((x) => x.kind === 'pip')
          .map((a) => `${a.name}-${a.version}.dist-info`)
          .sort(),
      );
      const snaps = join(root, 'opt/vault-ai/models/hub/models--vault-ai--tiny-gpt2/snapshots');
      const [rev] = await readdir(snaps);
      expect((await readdir(join(snaps, rev!))).sort()).toEqual(
        index.artifacts
          .filter((x) => x.kind === 'hf')
          .map((a) => a.name.split('/').at(-1))
          .sort(),
      );
      expect(await readFile(join(root, 'etc/vault-ai/motd.txt'), 'utf8')).toBe('vault-ai fleet test\n');
      const rollout = JSON.parse(await readFile(join(work, 'results', n, 'rollout.json'), 'utf8'));
      expect(rollout.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`)).toEqual(['copy:true', 'verify:true', 'install:true', 'smoke:false']);
      expect(rollout.bundle).toMatchObject({ name: 'fleet-demo', version: '1.0.0', digest: `sha256:${await digestOf(join(bundle, 'SHA256SUMS'))}` });
    }
    // box2 pulled every file from serve over its link (and box1/box3 never asked it for anything).
    const log = (await readFile(accessLog, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AccessLine);
    const sums = (await readFile(join(bundle, 'SHA256SUMS'), 'utf8')).split('\n').filter(Boolean).length;
    const fetched = log.filter((l) => l.path.startsWith('/bundle/') && l.status === 200);
    expect(fetched.length, JSON.stringify(log.slice(0, 3))).toBeGreaterThanOrEqual(sums);
    expect(new Set(log.map((l) => l.remote))).toEqual(new Set([f.links.box2!.box]));
    const f2 = await runCli(['--json', 'fleet', join(work, 'results')]);
    expect(f2.code, f2.stderr).toBe(1);
    const s = JSON.parse(await readFile(join(work, 'results', 'fleet.json'), 'utf8')) as FleetSummary;
    expect(s.counts).toMatchObject({ boxes: 3, pass: 0, fail: 3, noReport: 0 });
    expect(s.reasons).toHaveLength(1);
    expect(s.reasons[0]!.reason).toMatch(/^smoke failed: gpu\.inventory: /);
    expect(s.reasons[0]!.boxes).toEqual(NAMES);
    expect(s.boxes.every((b) => b.failedChecks.includes('gpu.inventory') && b.bundle?.name === 'fleet-demo')).toBe(true);
    // Each box's image-version stamp (install wrote it, smoke's results.json carries it) is on the page.
    expect(s.boxes.map((b) => b.image?.version)).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(await readFile(join(work, 'results', 'fleet.html'), 'utf8')).toMatch(
      /data-image="1\.0\.0">1\.0\.0<span class="peer" data-previous="">first install/,
    );
    expect(await readFile(join(work, 'results', 'fleet-junit.xml'), 'utf8')).toMatch(/<testsuite name="box3"[^>]*hostname="box3">/);
    // FLEET_KEEP_RESULTS=<dir>: keep what the boxes sent home (the GPU box's results join them in bench/results).
    if (process.env.FLEET_KEEP_RESULTS) await execFile('cp', ['-r', join(work, 'results'), process.env.FLEET_KEEP_RESULTS]);
  }, 300_000);

  it('a second run changes nothing (changed=0), and check mode changes nothing either', async () => {
    const status = () =>
      Promise.all(roots.map((r) => Promise.all([digestOf(join(r, 'var/lib/dpkg/status')), digestOf(join(r, 'var/lib/vault-bundle/journal.jsonl'))])));
    const again = await play({ vars: { rollout_smoke: false } });
    const installed = await readFile(join(work, 'results', 'box1', 'rollout.json'), 'utf8');
    for (const n of NAMES) expect(again.recap[n], installed).toMatchObject({ changed: 0, failed: 0 });
    const before = await status();
    const real = await Promise.all(NAMES.map((n) => readFile(join(work, 'results', n, 'rollout.json'), 'utf8')));
    const check = await play({ check: true });
    for (const n of NAMES) expect(check.recap[n], check.out).toMatchObject({ changed: 0, failed: 0 });
    expect(check.out).toContain('--dry-run');
    expect(await status()).toEqual(before);
    // Check mode writes results-check/, never over the last real run's results/.
    expect(await Promise.all(NAMES.map((n) => readFile(join(work, 'results', n, 'rollout.json'), 'utf8')))).toEqual(real);
    const rollout = JSON.parse(await readFile(join(work, 'results-check', 'box1', 'rollout.json'), 'utf8'));
    expect(rollout).toMatchObject({ checkMode: true });
    expect(rollout.steps.find((x: { step: string }) => x.step === 'install')).toMatchObject({ ok: true, changed: false, dryRun: true });
  }, 180_000);

  it('a box given a damaged copy fails at verify while the other two complete', async () => {
    const damaged = join(work, 'damaged');
    await execFile('cp', ['-a', bundle, damaged]);
    const blob = (await execFile('find', [join(damaged, 'blobs'), '-type', 'f'])).stdout.split('\n').filter(Boolean).sort()[0]!;
    const data = await readFile(blob);
    data[0] = data[0]! ^ 0xff;
    await writeFile(blob, data);
    const inv = await f.inventory(join(work, 'inventory-damaged.ini'), { ...viaUrl, box3: `rollout_src=${damaged}` });
    const r = await play({ inventory: inv, vars: { rollout_smoke: false } });
    expect(r.recap.box1, r.out).toMatchObject({ failed: 0 });
    expect(r.recap.box2, r.out).toMatchObject({ failed: 0 });
    expect(r.recap.box3, r.out).toMatchObject({ failed: 1 });
    const rollout = JSON.parse(await readFile(join(work, 'results', 'box3', 'rollout.json'), 'utf8'));
    expect(rollout.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`)).toEqual(['copy:true', 'verify:false']);
    await runCli(['fleet', join(work, 'results')]);
    const s = JSON.parse(await readFile(join(work, 'results', 'fleet.json'), 'utf8')) as FleetSummary;
    expect(s.boxes.find((b) => b.host === 'box3')).toMatchObject({ status: 'fail', failedStep: 'verify' });
    expect(s.boxes.find((b) => b.host === 'box3')!.reason).toMatch(/^verify failed \(exit 4\)/);
  }, 180_000);
});

const hasLint = await execFile('sh', ['-c', 'command -v ansible-lint && command -v ansible-playbook']).then(
  () => true,
  () => false,
);
describe.skipIf(!hasLint)('the collection as its own linters read it', () => {
  it('site.yml and the Packer provisioner pass --syntax-check; ansible-lint (production profile) is clean', async () => {
    const dir = join(REPO, 'ansible');
    const env = {
      ...process.env,
      ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      NO_COLOR: '1',
      ANSIBLE_LOCAL_TEMP: join(await tempDir(), 'a'),
    };
    for (const pb of ['site.yml', 'packer/provision.yml']) {
      const r = await execFile('ansible-playbook', ['--syntax-check', '-i', 'localhost,', pb], { cwd: dir, env });
      expect(r.stdout).toContain(`playbook: ${pb}`);
    }
    const lint = await execFile('ansible-lint', ['--offline', '-p', 'site.yml', 'packer/provision.yml', 'collections/'], { cwd: dir, env }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(lint.out).not.toMatch(/^\S+\.yml:\d+/m);
    expect(lint.code, lint.out).toBe(0);
  }, 240_000);
});
