import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';

export interface NetworkFacts {
  /** Interfaces in this process's network namespace (/proc/self/net/dev; /sys/class/net shows the namespace sysfs was mounted in). */
  interfaces: string[];
  /** State of lo: up or down (IFF_UP in its flags). */
  loopback: 'up' | 'down' | 'absent';
  /** No interface but lo: nothing can leave this box from here. */
  isolated: boolean;
  /** Set when smoke re-executed itself under `unshare -n`. */
  netns: boolean;
}

export const NETNS_MARK = 'VAULT_SMOKE_NETNS';

/** Sets IFF_UP on lo with SIOCGIFFLAGS (0x8913) / SIOCSIFFLAGS (0x8914); root only. No double quotes inside. */
const LO_UP_PY =
  "import fcntl,socket,struct; s=socket.socket(); f=struct.unpack('16sh', fcntl.ioctl(s, 0x8913, struct.pack('16sh', b'lo', 0)))[1]; fcntl.ioctl(s, 0x8914, struct.pack('16sh', b'lo', f | 1))";

/** Interface names from /proc/self/net/dev ("  eth0: 1234 …"). */
export function parseNetDev(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*([^\s:]+):/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

/**
 * Whether lo is up, by a TCP connect to 127.0.0.1:9: "refused" (or a listener) means up, ENETUNREACH means down.
 * (Binding 127.0.0.1 succeeds even with lo down, and /sys/class/net shows the namespace sysfs was mounted in.)
 */
export function loopbackUp(port = 9): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (up: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(true), 1_000);
    sock.once('connect', () => done(true));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ENETUNREACH' && err.code !== 'EADDRNOTAVAIL'));
  });
}

/**
 * Which interfaces this process's network namespace has, and whether lo is up. Isolated = nothing but lo:
 * nothing can leave the box from here (what `smoke --netns` gives).
 */
export async function detectNetwork(o: { netDev?: string; sys?: string; env?: NodeJS.ProcessEnv } = {}): Promise<NetworkFacts> {
  const env = o.env ?? process.env;
  const dev = await readFile(o.netDev ?? '/proc/self/net/dev', 'utf8').catch(() => undefined);
  const interfaces = dev !== undefined ? parseNetDev(dev) : (await readdir(o.sys ?? '/sys/class/net').catch(() => [] as string[])).sort();
  const loopback: NetworkFacts['loopback'] = !interfaces.includes('lo') ? 'absent' : (await loopbackUp()) ? 'up' : 'down';
  return { interfaces, loopback, isolated: interfaces.every((i) => i === 'lo'), netns: env[NETNS_MARK] === '1' };
}

/**
 * `smoke --netns`: runs this same command again inside a new network namespace with no interfaces
 * (`unshare -n`, root only), with lo brought up for torchrun's local rendezvous. Returns its exit code, or
 * undefined when it did not re-execute (already inside, not root, or unshare unusable): then run here, and
 * results.json records the network that was there.
 */
export async function reexecInNetns(o: { argv?: string[]; env?: NodeJS.ProcessEnv; warn?: (m: string) => void } = {}): Promise<number | undefined> {
  const env = o.env ?? process.env;
  if (env[NETNS_MARK] === '1') return undefined;
  if (process.getuid?.() !== 0) {
    o.warn?.('--netns needs root (unshare -n); running in the current network namespace');
    return undefined;
  }
  const probe = await run('unshare', ['-n', 'true'], env, 'ignore');
  if (probe !== 0) {
    o.warn?.('unshare -n does not work here; running in the current network namespace');
    return undefined;
  }
  const argv = o.argv ?? [...process.execArgv, ...process.argv.slice(1)];
  // sh brings lo up for torchrun's rendezvous on 127.0.0.1: ip, else ifconfig, else python's SIOCSIFFLAGS ioctl
  // (the H200 box has no ip); results.json then records whether lo came up.
  const script = `(ip link set lo up || ifconfig lo up || python3 -c "${LO_UP_PY}") >/dev/null 2>&1; exec "$@"`;
  return run('unshare', ['-n', '--', 'sh', '-c', script, 'sh', process.execPath, ...argv], { ...env, [NETNS_MARK]: '1' }, 'inherit');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdio: 'ignore' | 'inherit'): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env, stdio });
    c.on('error', () => resolve(127));
    c.on('close', (code) => resolve(code ?? 1));
  });
}
