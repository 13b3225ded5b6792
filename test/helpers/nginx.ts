import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { signalChild } from '../../src/util/proc.js';

/** Whether Debian's nginx is here (.ci/run installs nginx-light when it is missing). */
export function hasNginx(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr()}`);
    const up = await new Promise<boolean>((ok) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        ok(true);
      });
      c.once('error', () => ok(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${stderr()}`);
}

/**
 * Runs nginx in the foreground (not a daemon) with an exported site's own nginx.conf, which listens where the
 * export was told; killed by `close()`. As root, the workers run as root too (the test's temp folders are 0700).
 */
export async function startNginx(site: string, port: number): Promise<{ url: string; stderr: () => string; close: () => Promise<void> }> {
  const g = `daemon off; master_process on;${process.getuid?.() === 0 ? ' user root;' : ''}`;
  const child = spawn('nginx', ['-e', 'stderr', '-p', site, '-c', 'nginx.conf', '-g', g], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await waitForPort(port, child, () => err);
  return {
    url: `http://127.0.0.1:${port}`,
    stderr: () => err,
    close: async () => {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      signalChild(child, 'SIGTERM');
      await done;
    },
  };
}
