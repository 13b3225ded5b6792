import { execFile as execFileCb, spawn } from 'node:child_process';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { readSystemSources } from '../../src/sources/apt/sourcelist.js';

const execFile = promisify(execFileCb);

/**
 * Throwaway root filesystems with a real apt and dpkg inside: a debootstrap minbase of this machine's own
 * Debian release (and Python 3, which Ansible needs), made once from the mirror this machine's apt uses and
 * cached between runs, then copied per use. Root only (debootstrap, chroot, unshare).
 *
 * Used by the fleet test (a box per copy, reached over ssh) and meant for anything that needs "a box" whose
 * dpkg, /opt and /root are not this machine's.
 */

/** Packages beyond minbase in the cached root (Python for Ansible; nothing the bundle should bring). */
export const ROOTFS_INCLUDE = ['python3'];

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Where the cached root lives: $VAULT_BUNDLE_TEST_CACHE, /var/cache/vault-bundle-test as root, else $XDG_CACHE_HOME. */
export function rootfsCacheDir(): string {
  if (process.env.VAULT_BUNDLE_TEST_CACHE) return process.env.VAULT_BUNDLE_TEST_CACHE;
  if (process.getuid?.() === 0) return '/var/cache/vault-bundle-test';
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vault-bundle-test');
}

/** Whether throwaway roots can be made here: root, debootstrap, chroot, unshare, and a configured Debian mirror. */
export async function canMakeRootfs(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  for (const tool of ['debootstrap', 'chroot', 'unshare']) {
    if (
      !(await execFile('sh', ['-c', `command -v ${tool}`]).then(
        () => true,
        () => false,
      ))
    )
      return false;
  }
  return (await mirror()) !== undefined;
}

async function release(): Promise<{ codename: string; arch: string }> {
  const os = await readFile('/etc/os-release', 'utf8');
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(os)?.[1]?.replace(/"/g, '') ?? '';
  const { stdout } = await execFile('dpkg', ['--print-architecture']);
  return { codename, arch: stdout.trim() };
}

/** The mirror URI this machine's apt reads for its own release (never a host name of ours). */
async function mirror(): Promise<{ uri: string; codename: string; arch: string } | undefined> {
  const { codename, arch } = await release();
  if (!codename) return undefined;
  const sources = await readSystemSources().catch(() => []);
  const s = sources.find((x) => x.suites.includes(codename));
  return s ? { uri: s.uri, codename, arch } : undefined;
}

/**
 * The cached minbase root, made when missing (minutes, once; later calls return at once). Made in a scratch
 * folder and renamed into place, so a run killed halfway leaves no half root behind.
 */
export async function baseRootfs(): Promise<string> {
  const m = await mirror();
  if (!m) throw new Error('no Debian mirror for this release in /etc/apt/sources.list.d: cannot debootstrap');
  const dir = join(rootfsCacheDir(), `rootfs-${m.codename}-${m.arch}-minbase-${ROOTFS_INCLUDE.join('+')}`);
  if (await exists(join(dir, '.complete'))) return dir;
  await mkdir(rootfsCacheDir(), { recursive: true });
  const scratch = `${dir}.tmp-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await execFile('debootstrap', ['--variant=minbase', `--include=${ROOTFS_INCLUDE.join(',')}`, `--arch=${m.arch}`, m.codename, scratch, m.uri], {
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  // No package lists and no downloaded debs: a box in the field has neither for the bundle's packages.
  await execFile('sh', ['-c', `rm -rf "${scratch}"/var/cache/apt/archives/*.deb "${scratch}"/var/lib/apt/lists/*_Packages`]);
  await writeFile(join(scratch, '.complete'), `${new Date().toISOString()}\n`);
  if (await exists(join(dir, '.complete'))) {
    await rm(scratch, { recursive: true, force: true }); // another test file made it meanwhile
  } else {
    await rm(dir, { recursive: true, force: true });
    await rename(scratch, dir);
  }
  return dir;
}

/**
 * A private copy of the cached root at `dest` (device nodes, owners and modes kept), made private to mounts
 * (`unshare --mount` inside a chroot needs "/" to be a mount point, and nothing mounted inside ever shows
 * outside). An overlay over the cached root where the kernel allows it (instant, and only what the box writes
 * takes space: the copy of 170 MB cost 5-20 s per box under load); a full `cp -a`, bind-mounted onto itself,
 * where it does not. The cached root is never written either way. Undo with removeRootfs.
 */
export async function copyRootfs(dest: string): Promise<string> {
  const base = await baseRootfs();
  await removeRootfs(dest);
  await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
  const layers = `${dest}.layers`;
  await mkdir(join(layers, 'upper'), { recursive: true, mode: 0o755 });
  await mkdir(join(layers, 'work'), { recursive: true, mode: 0o755 });
  await mkdir(dest, { mode: 0o755 });
  const overlay = await execFile('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${layers}/upper,workdir=${layers}/work`, dest]).then(
    () => true,
    () => false,
  );
  if (overlay) {
    // The cached root's completion mark is not the box's (a whiteout in the upper layer hides it).
    await rm(join(dest, '.complete'), { force: true });
  } else {
    await rm(layers, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
    await execFile('cp', ['-a', base, dest]);
    await rm(join(dest, '.complete'), { force: true });
    await execFile('mount', ['--bind', dest, dest]);
  }
  await execFile('mount', ['--make-private', dest]);
  return dest;
}

/** Unmounts (lazily: a process of the box may still be leaving) and deletes a root made by copyRootfs. */
export async function removeRootfs(dest: string): Promise<void> {
  await execFile('umount', ['-R', '-l', dest]).catch(() => undefined);
  await rm(dest, { recursive: true, force: true });
  await rm(`${dest}.layers`, { recursive: true, force: true });
}

/**
 * Runs a command inside a root as its own box: chroot, a fresh network namespace (no network, not even this
 * machine's loopback), its own mount and PID namespaces with /proc mounted. Resolves with exit code and output.
 */
export function inRoot(
  root: string,
  argv: string[],
  o: { input?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn('unshare', ['--net', '--mount', '--pid', '--fork', '--mount-proc=' + join(root, 'proc'), 'chroot', root, ...argv], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...o.env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', fail);
    p.stdin.on('error', () => undefined); // a command that never reads its input
    p.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(o.input ?? '');
  });
}
