import { type ChildProcess, execFile as execFileCb, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signalChild } from '../../src/util/proc.js';

const execFile = promisify(execFileCb);

/**
 * A box reached over real SSH: this machine's sshd on its own loopback address and port, key-only root login,
 * every session chrooted into the box's root filesystem and run under `unshare --net --mount --pid` (a fresh
 * network namespace: no interface but a loopback that is down, so nothing on the box can reach any network,
 * this machine's loopback included). sftp is not offered: Ansible copies with `ssh_transfer_method=piped`.
 *
 * Why this shape: an sshd inside its own network namespace could not be reached from the controller without a
 * relay; the host's sshd with ChrootDirectory + ForceCommand gives the same box-side isolation with the stock
 * binary. ChrootDirectory needs every component of the root's path owned by root and not writable by others,
 * so roots live under /var/cache, never /tmp.
 */
export interface SshBox {
  name: string;
  root: string;
  address: string;
  port: number;
  /** CPU seconds (user + system) of every session this box's sshd has run and reaped so far. */
  cpuSeconds(): Promise<number>;
  /** How many connections the sshd is serving now (its live children). */
  sessions(): Promise<number>;
  stop(): Promise<void>;
}

/** cutime + cstime of a process (its reaped children's CPU, theirs included), in seconds; 0 when it is gone. */
export async function childCpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "(comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14; USER_HZ is 100 on Linux.
  return (Number(fields[13] ?? 0) + Number(fields[14] ?? 0)) / 100;
}

/** A client key pair for the controller (ed25519, no passphrase). */
export async function clientKey(dir: string): Promise<{ private: string; public: string }> {
  const key = join(dir, 'id_ed25519');
  await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vault-bundle-test', '-f', key]);
  return { private: key, public: `${key}.pub` };
}

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: address, port }, () => {
      s.destroy();
      done(true);
    });
    s.on('error', () => done(false));
  });
}

/** Starts the box's sshd (foreground, logging to <dir>/sshd.log) and waits until it accepts connections. */
export async function startSshBox(o: {
  name: string;
  root: string;
  address: string;
  port: number;
  dir: string;
  authorizedKey: string;
  /**
   * A named network namespace (`ip netns`) for the box: its sshd listens there and every session keeps it, so
   * the box reaches what that namespace reaches (a link to a site server) and nothing else. Without one, each
   * session gets a fresh namespace with no network at all.
   */
  netns?: string;
}): Promise<SshBox> {
  await mkdir(o.dir, { recursive: true });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(o.dir, 'ssh_host_ed25519_key');
  await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await writeFile(join(o.dir, 'authorized_keys'), o.authorizedKey, { mode: 0o600 });
  const config = join(o.dir, 'sshd_config');
  await writeFile(
    config,
    [
      `ListenAddress ${o.address}:${o.port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(o.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(o.dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 50',
      'MaxSessions 50',
      `ChrootDirectory ${o.root}`,
      // Inside the chroot: a fresh network (unless the box has its own), mount and PID namespace with its own /proc for every command.
      `ForceCommand /usr/bin/unshare ${o.netns ? '' : '--net '}--mount --pid --fork --mount-proc /bin/sh -c "$SSH_ORIGINAL_COMMAND"`,
      'SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8',
      '',
    ].join('\n'),
  );
  const sshd = ['/usr/sbin/sshd', '-D', '-e', '-f', config, '-E', join(o.dir, 'sshd.log')];
  // `ip netns exec` enters the namespace and execs sshd: the child is sshd itself.
  const argv = o.netns ? ['ip', 'netns', 'exec', o.netns, ...sshd] : sshd;
  const p: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await listening(o.address, o.port)); i++) {
    if (p.exitCode !== null) throw new Error(`sshd for ${o.name} exited ${p.exitCode}; see ${join(o.dir, 'sshd.log')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: o.name,
    root: o.root,
    address: o.address,
    port: o.port,
    cpuSeconds: () => childCpuSeconds(p.pid),
    sessions: () =>
      readFile(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').then(
        (t) => t.split(/\s+/).filter(Boolean).length,
        () => 0,
      ),
    stop: async () => {
      if (p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      signalChild(p, 'SIGTERM');
      await gone;
    },
  };
}
