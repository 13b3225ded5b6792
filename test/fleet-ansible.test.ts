import { execFile as execFileCb, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTinyModels } from '../src/sources/hf/make-tiny.js';
import type { FleetSummary } from '../src/fleet/summary.js';
import { REPO, runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { canMakeRootfs, copyRootfs, inRoot, removeRootfs, rootfsCacheDir } from './helpers/rootfs.js';
import { type SshBox, clientKey, startSshBox } from './helpers/ssh-box.js';
import { tempDir } from './helpers/tmp.js';

const execFile = promisify(execFileCb);

/**
 * The fleet role for real: three boxes (each a copy of a debootstrap minbase with its own sshd on its own
 * 127.0.0.x, key-only, no network inside), ansible-playbook rolling one bundle (apt, wheels, a tiny model, a
 * file) out to all three, then the fleet page from what it fetched.
 */
const tools = ['ansible-playbook', 'ssh', 'ssh-keygen', '/usr/sbin/sshd'];
const haveTools = (await Promise.all(tools.map((t) => execFile('sh', ['-c', `command -v ${t}`]).then(() => true, () => false)))).every(Boolean);
const READY = haveTools && (await canMakeRootfs());
if (!READY) console.warn('fleet-ansible.test.ts: skipped: needs root, ansible, openssh-server, debootstrap and a Debian mirror in /etc/apt/sources.list.d');

const NAMES = ['box1', 'box2', 'box3'];
const PORT = 20000 + (process.pid % 20000);
let work = '';
let bundle = '';
let boxes: SshBox[] = [];
const roots: string[] = [];
let key = { private: '', public: '' };

interface Recap {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

/** ansible-playbook with the repo's collection; the PLAY RECAP per host. */
async function play(o: { check?: boolean; vars?: Record<string, string | boolean>; inventory?: string } = {}): Promise<{ code: number; out: string; recap: Record<string, Recap> }> {
  const args = ['-i', o.inventory ?? join(work, 'inventory.ini'), join(work, 'fleet.yml'), '-e', JSON.stringify({ rollout_results: join(work, 'results'), rollout_src: bundle, ...o.vars })];
  if (o.check) args.push('--check');
  const env = {
    ...process.env,
    ANSIBLE_COLLECTIONS_PATH: join(REPO, 'ansible/collections'),
    ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: join(work, 'cp'),
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORKS: '10',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
  };
  const out = await new Promise<{ code: number; out: string }>((done) => {
    const p = spawn('ansible-playbook', args, { env, cwd: work });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (text += d.toString()));
    p.on('close', (code) => done({ code: code ?? 1, out: text }));
  });
  if (process.env.FLEET_TEST_LOG) await writeFile(process.env.FLEET_TEST_LOG, out.out, { flag: 'a' });
  const recap: Record<string, Recap> = {};
  for (const m of out.out.matchAll(/^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    recap[m[1]!] = { ok: Number(m[2]), changed: Number(m[3]), unreachable: Number(m[4]), failed: Number(m[5]) };
  }
  return { ...out, recap };
}

async function inventory(file: string, hostVars: Record<string, string> = {}): Promise<string> {
  const lines = ['[boxes]', ...NAMES.map((n, i) => `${n} ansible_host=127.0.0.${11 + i}${hostVars[n] ? ` ${hostVars[n]}` : ''}`), '', '[boxes:vars]'];
  lines.push(
    `ansible_port=${PORT}`,
    'ansible_user=root',
    `ansible_ssh_private_key_file=${key.private}`,
    "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR'",
    'ansible_ssh_transfer_method=piped',
    'ansible_python_interpreter=/usr/bin/python3',
  );
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** The manifest: an apt package with its closure, pip and setuptools wheels, a tiny GPT-2, a file; for this release. */
async function buildBundle(): Promise<string> {
  const src = join(work, 'src');
  await mkdir(src, { recursive: true });
  await makeTinyModels(join(src, 'models'));
  const motd = Buffer.from('vault-ai fleet test\n');
  await writeFile(join(src, 'motd.txt'), motd);
  const os = await readFile('/etc/os-release', 'utf8');
  const id = /^ID=(.*)$/m.exec(os)![1]!.replace(/"/g, '');
  const ver = /^VERSION_ID=(.*)$/m.exec(os)![1]!.replace(/"/g, '');
  const py = (await execFile('python3', ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'])).stdout.trim();
  const m = join(src, 'fleet.yaml');
  await writeFile(
    m,
    [
      'name: fleet-demo',
      'version: 1.0.0',
      `target: { os: ${id}-${ver}, arch: amd64, python: "${py}" }`,
      'files:',
      '  - name: motd',
      `    path: ${join(src, 'motd.txt')}`,
      `    sha256: ${sha256(motd)}`,
      '    install: { dest: /etc/vault-ai/motd.txt }',
      'apt:',
      '  sources: system',
      '  packages: [hello]',
      'pip:',
      '  no-index: true',
      '  find-links: [/usr/share/python-wheels]',
      '  packages: [pip==23.0.1, setuptools==66.1.1]',
      `  python: "${py}"`,
      'hf:',
      '  models:',
      '    - repo: vault-ai/tiny-gpt2',
      `      local: ${join(src, 'models/tiny-gpt2')}`,
      '',
    ].join('\n'),
  );
  const out = join(work, 'bundle');
  const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', m, '--out', out, '--runtime', 'host']);
  if (b.code !== 0) throw new Error(`build failed: ${b.stderr}`);
  return out;
}

const digestOf = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

beforeAll(async () => {
  if (!READY) return;
  work = await tempDir('vb-fleet');
  key = await clientKey(work);
  const [b] = await Promise.all([
    buildBundle(),
    ...NAMES.map((n) => copyRootfs(join(rootfsCacheDir(), 'boxes', `${process.pid}-${n}`)).then((r) => roots.push(r))),
  ]);
  bundle = b;
  roots.sort();
  const pub = await readFile(key.public, 'utf8');
  boxes = await Promise.all(NAMES.map((n, i) => startSshBox({ name: n, root: roots[i]!, address: `127.0.0.${11 + i}`, port: PORT, dir: join(work, 'sshd', n), authorizedKey: pub })));
  await inventory(join(work, 'inventory.ini'));
  await writeFile(join(work, 'fleet.yml'), ['---', '- name: Fleet test rollout', '  hosts: boxes', '  gather_facts: false', '  roles:', '    - role: vault_ai.bundle.rollout', ''].join('\n'));
}, 600_000);

afterAll(async () => {
  await Promise.all(boxes.map((b) => b.stop()));
  await Promise.all(roots.map((r) => removeRootfs(r)));
  if (work) await rm(work, { recursive: true, force: true });
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
      expect(dists).toEqual(index.artifacts.filter((x) => x.kind === 'pip').map((a) => `${a.name}-${a.version}.dist-info`).sort());
      const snaps = join(root, 'opt/vault-ai/models/hub/models--vault-ai--tiny-gpt2/snapshots');
      const [rev] = await readdir(snaps);
      expect((await readdir(join(snaps, rev!))).sort()).toEqual(index.artifacts.filter((x) => x.kind === 'hf').map((a) => a.name.split('/').at(-1)).sort());
      expect(await readFile(join(root, 'etc/vault-ai/motd.txt'), 'utf8')).toBe('vault-ai fleet test\n');
      const rollout = JSON.parse(await readFile(join(work, 'results', n, 'rollout.json'), 'utf8'));
      expect(rollout.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`)).toEqual(['copy:true', 'verify:true', 'install:true', 'smoke:false']);
      expect(rollout.bundle).toMatchObject({ name: 'fleet-demo', version: '1.0.0', digest: `sha256:${await digestOf(join(bundle, 'SHA256SUMS'))}` });
    }
    const f = await runCli(['--json', 'fleet', join(work, 'results')]);
    expect(f.code, f.stderr).toBe(1);
    const s = JSON.parse(await readFile(join(work, 'results', 'fleet.json'), 'utf8')) as FleetSummary;
    expect(s.counts).toMatchObject({ boxes: 3, pass: 0, fail: 3, noReport: 0 });
    expect(s.reasons).toHaveLength(1);
    expect(s.reasons[0]!.reason).toMatch(/^smoke failed: gpu\.inventory: /);
    expect(s.reasons[0]!.boxes).toEqual(NAMES);
    expect(s.boxes.every((b) => b.failedChecks.includes('gpu.inventory') && b.bundle?.name === 'fleet-demo')).toBe(true);
    expect(await readFile(join(work, 'results', 'fleet-junit.xml'), 'utf8')).toMatch(/<testsuite name="box3"[^>]*hostname="box3">/);
  }, 300_000);

  it('a second run changes nothing (changed=0), and check mode changes nothing either', async () => {
    const status = () => Promise.all(roots.map((r) => Promise.all([digestOf(join(r, 'var/lib/dpkg/status')), digestOf(join(r, 'var/lib/vault-bundle/journal.jsonl'))])));
    const again = await play({ vars: { rollout_smoke: false } });
    for (const n of NAMES) expect(again.recap[n], again.out).toMatchObject({ changed: 0, failed: 0 });
    const before = await status();
    const check = await play({ check: true });
    for (const n of NAMES) expect(check.recap[n], check.out).toMatchObject({ changed: 0, failed: 0 });
    expect(check.out).toContain('--dry-run');
    expect(await status()).toEqual(before);
    const rollout = JSON.parse(await readFile(join(work, 'results', 'box1', 'rollout.json'), 'utf8'));
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
    const inv = await inventory(join(work, 'inventory-damaged.ini'), { box3: `rollout_src=${damaged}` });
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
