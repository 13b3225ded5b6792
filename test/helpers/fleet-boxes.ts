import { execFile as execFileCb, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTinyModels } from '../../tools/tiny-model/make-tiny.js';
import { REPO, runCli } from './cli.js';
import { sha256 } from './fixtures.js';
import { canMakeRootfs, copyRootfs, removeRootfs, rootfsCacheDir } from './rootfs.js';
import { type SshBox, clientKey, startSshBox } from './ssh-box.js';

const execFile = promisify(execFileCb);

/**
 * A fleet for the rollout role: `n` boxes (each a copy of the cached debootstrap minbase, its own sshd on
 * 127.0.0.<11+i>, key-only, no network inside), one bundle (apt with its closure, pip and setuptools wheels, a
 * tiny GPT-2, a file) built for this release with the host's node carried, an inventory and a playbook that
 * runs vault_ai.bundle.rollout from the repository's collection. Used by test/fleet-ansible.test.ts and
 * bench/fleet.ts.
 */
export interface Recap {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

export interface Fleet {
  work: string;
  bundle: string;
  names: string[];
  roots: string[];
  boxes: SshBox[];
  /** Boxes with a link to this machine (makeFleet's `linked`): the address each end has (`host` is ours). */
  links: Record<string, { host: string; box: string }>;
  /** ansible-playbook over the inventory (or another one); PLAY RECAP per host. */
  play(o?: {
    check?: boolean;
    vars?: Record<string, string | boolean>;
    inventory?: string;
    limit?: string;
    /** Extra environment for ansible-playbook (e.g. ANSIBLE_CALLBACKS_ENABLED=profile_tasks). */
    env?: Record<string, string>;
  }): Promise<{ code: number; out: string; recap: Record<string, Recap>; cpu: PlayCpu }>;
  /** An inventory file of the boxes (rollout_src: the bundle), with extra host variables per box (`key=value ...`). */
  inventory(file: string, hostVars?: Record<string, string>): Promise<string>;
  dispose(): Promise<void>;
}

/** CPU seconds (user + system) of one play: ansible-playbook and its children, and every box's sessions. */
export interface PlayCpu {
  controller: number;
  boxes: number;
}

export const fleetReady = async (): Promise<boolean> => {
  const tools = ['ansible-playbook', 'ssh', 'ssh-keygen', '/usr/sbin/sshd'];
  const have = (
    await Promise.all(
      tools.map((t) =>
        execFile('sh', ['-c', `command -v ${t}`]).then(
          () => true,
          () => false,
        ),
      ),
    )
  ).every(Boolean);
  return have && (await canMakeRootfs());
};

/**
 * A network namespace for a box with one link (a veth pair, a /30 of 10.231.0.0/16 picked by pid) to this
 * machine: the box reaches this machine's end of the link (a site server listening there) and nothing else.
 */
async function makeLink(name: string, i: number): Promise<{ netns: string; host: string; box: string; remove(): Promise<void> }> {
  const netns = `vb-fleet-${process.pid}-${name}`;
  const [h, b] = [`vb${process.pid}h${i}`, `vb${process.pid}b${i}`];
  const base = (((process.pid * 4 + i) % 16384) * 4) >>> 0;
  const addr = (k: number) => `10.231.${(base + k) >> 8}.${(base + k) & 255}`;
  const ip = (...a: string[]) => execFile('ip', a);
  const remove = async () => {
    await ip('link', 'del', h).catch(() => undefined);
    await ip('netns', 'del', netns).catch(() => undefined);
  };
  await remove();
  await ip('netns', 'add', netns);
  await ip('link', 'add', h, 'type', 'veth', 'peer', 'name', b);
  await ip('link', 'set', b, 'netns', netns);
  await ip('addr', 'add', `${addr(1)}/30`, 'dev', h);
  await ip('link', 'set', h, 'up');
  for (const a of [
    ['addr', 'add', `${addr(2)}/30`, 'dev', b],
    ['link', 'set', b, 'up'],
    ['link', 'set', 'lo', 'up'],
  ])
    await ip('-n', netns, ...a);
  return { netns, host: addr(1), box: addr(2), remove };
}

export async function makeFleet(n: number, o: { linked?: string[] } = {}): Promise<Fleet> {
  const names = Array.from({ length: n }, (_, i) => `box${i + 1}`);
  const port = 20000 + (process.pid % 20000);
  // Not tempDir(): that one is emptied after each test, and a fleet lives for the whole file.
  const work = await mkdtemp(join(tmpdir(), 'vb-fleet-'));
  const key = await clientKey(work);
  const roots = names.map((name) => join(rootfsCacheDir(), 'boxes', `${process.pid}-${name}`));
  const [bundle] = await Promise.all([buildBundle(work), ...roots.map((r) => copyRootfs(r))]);
  const pub = await readFile(key.public, 'utf8');
  const made = await Promise.all(names.map((name, i) => (o.linked?.includes(name) ? makeLink(name, i) : Promise.resolve(undefined))));
  const address = (i: number) => made[i]?.box ?? `127.0.0.${11 + i}`;
  const boxes = await Promise.all(
    names.map((name, i) =>
      startSshBox({
        name,
        root: roots[i]!,
        address: address(i),
        port,
        dir: join(work, 'sshd', name),
        authorizedKey: pub,
        ...(made[i] ? { netns: made[i].netns } : {}),
      }),
    ),
  );
  const links = Object.fromEntries(names.flatMap((name, i) => (made[i] ? [[name, { host: made[i].host, box: made[i].box }]] : [])));
  const inventory = async (file: string, hostVars: Record<string, string> = {}) => {
    const lines = ['[boxes]', ...names.map((name, i) => `${name} ansible_host=${address(i)}${hostVars[name] ? ` ${hostVars[name]}` : ''}`), '', '[boxes:vars]'];
    lines.push(
      `ansible_port=${port}`,
      'ansible_user=root',
      `ansible_ssh_private_key_file=${key.private}`,
      "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR'",
      'ansible_ssh_transfer_method=piped',
      'ansible_python_interpreter=/usr/bin/python3',
      `rollout_src=${bundle}`,
    );
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  };
  await inventory(join(work, 'inventory.ini'));
  await writeFile(
    join(work, 'fleet.yml'),
    ['---', '- name: Fleet test rollout', '  hosts: boxes', '  gather_facts: false', '  roles:', '    - role: vault_ai.bundle.rollout', ''].join('\n'),
  );
  const play: Fleet['play'] = async (o = {}) => {
    const args = [
      '-i',
      o.inventory ?? join(work, 'inventory.ini'),
      join(work, 'fleet.yml'),
      '-e',
      JSON.stringify({ rollout_results: join(work, 'results'), ...o.vars }),
    ];
    if (o.check) args.push('--check');
    if (o.limit) args.push('--limit', o.limit);
    // The repository's ansible.cfg (forks, pipelining, ssh arguments, no fact gathering): what a site runs.
    // VAULT_FLEET_ANSIBLE_DIR: another copy of ansible/ (an older role, for a before/after bench).
    const dir = process.env.VAULT_FLEET_ANSIBLE_DIR ?? join(REPO, 'ansible');
    const env = {
      ...process.env,
      ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
      ANSIBLE_COLLECTIONS_PATH: join(dir, 'collections'),
      ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(work, 'cp'),
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ...o.env,
    };
    const timeFile = join(work, 'play-time.txt');
    const boxCpu = () => Promise.all(boxes.map((b) => b.cpuSeconds())).then((xs) => xs.reduce((a, b) => a + b, 0));
    const boxesBefore = await boxCpu();
    const out = await new Promise<{ code: number; out: string }>((done) => {
      const p = spawn('/usr/bin/time', ['-q', '-o', timeFile, '-f', '%U %S', 'ansible-playbook', ...args], { env, cwd: work });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.stderr.on('data', (d: Buffer) => (text += d.toString()));
      p.on('error', (e) => done({ code: 127, out: String(e) }));
      p.on('close', (code) => done({ code: code ?? 1, out: text }));
    });
    await closeMasters(join(work, 'cp'), boxes);
    const [user, sys] = (await readFile(timeFile, 'utf8').catch(() => '0 0')).trim().split(/\s+/).map(Number);
    const cpu = { controller: (user ?? 0) + (sys ?? 0), boxes: (await boxCpu()) - boxesBefore };
    if (process.env.FLEET_TEST_LOG) await writeFile(process.env.FLEET_TEST_LOG, out.out, { flag: 'a' });
    const recap: Record<string, Recap> = {};
    for (const m of out.out.matchAll(/^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
      recap[m[1]!] = { ok: Number(m[2]), changed: Number(m[3]), unreachable: Number(m[4]), failed: Number(m[5]) };
    }
    return { ...out, recap, cpu };
  };
  return {
    work,
    bundle,
    names,
    roots,
    boxes,
    links,
    play,
    inventory,
    dispose: async () => {
      await Promise.all(boxes.map((b) => b.stop()));
      await Promise.all(roots.map((r) => removeRootfs(r)));
      await Promise.all(made.map((l) => (l ? l.remove() : Promise.resolve())));
      await rm(work, { recursive: true, force: true });
    },
  };
}

/**
 * Ends the play's persistent ssh connections (ControlPersist would keep them a minute), and waits until every
 * box's sshd has reaped their sessions, so the play's box-side CPU is counted now and the next play starts fresh.
 */
async function closeMasters(dir: string, boxes: SshBox[]): Promise<void> {
  const sockets = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(sockets.map((s) => execFile('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'box']).catch(() => undefined)));
  for (let i = 0; i < 100; i++) {
    const busy = await Promise.all(boxes.map((b) => b.sessions()));
    if (busy.every((n) => n === 0)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The manifest: an apt package with its closure, pip and setuptools wheels, a tiny GPT-2, a file; for this release. */
async function buildBundle(work: string): Promise<string> {
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
