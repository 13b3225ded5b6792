import { type ChildProcess, execFile as execFileCb, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
  stop(): Promise<void>;
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
export async function startSshBox(o: { name: string; root: string; address: string; port: number; dir: string; authorizedKey: string }): Promise<SshBox> {
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
      // Inside the chroot: a fresh network, mount and PID namespace with its own /proc for every command.
      'ForceCommand /usr/bin/unshare --net --mount --pid --fork --mount-proc /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
      'SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8',
      '',
    ].join('\n'),
  );
  const p: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config, '-E', join(o.dir, 'sshd.log')], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await listening(o.address, o.port)); i++) {
    if (p.exitCode !== null) throw new Error(`sshd for ${o.name} exited ${p.exitCode}; see ${join(o.dir, 'sshd.log')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: o.name,
    root: o.root,
    address: o.address,
    port: o.port,
    stop: async () => {
      if (p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    },
  };
}
