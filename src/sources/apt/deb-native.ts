import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, createReadStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { signalChild } from '../../util/proc.js';

/**
 * The data.tar of a .deb decompressed by the build host's own programs rather than in JS (xz in JS runs at
 * about half the speed of liblzma, and a CUDA .deb holds hundreds of MB): `dpkg-deb --fsys-tarfile` where
 * dpkg is installed (every Debian or Ubuntu build host), else `xz -dc` / `zstd -dc` fed the ar member's
 * bytes. Absent programs: undefined, and the caller decompresses in JS.
 */
export interface NativeTar {
  /** The decompressed tar. */
  stream: Readable;
  /** What ran, for messages. */
  tool: string;
  /** Stops the program (the rest of the tar is not wanted) and waits for it to go. */
  stop(): Promise<void>;
  /** Waits for the program's end: undefined when it succeeded, else why not. */
  result(): Promise<string | undefined>;
}

const found = new Map<string, string | undefined>();

/** The program `name` on this process's PATH, as a path (looked up once per PATH). */
export function onPath(name: string): string | undefined {
  const path = process.env.PATH ?? '';
  const key = `${name}\0${path}`;
  if (!found.has(key)) {
    let hit: string | undefined;
    for (const dir of path.split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        hit = join(dir, name);
        break;
      } catch {
        // not here
      }
    }
    found.set(key, hit);
  }
  return found.get(key);
}

/** The member's compression's program, for `xz`/`zstd` members, with its arguments. */
function filterFor(ext: string): { name: string; args: string[] } | undefined {
  if (ext === '.xz') return { name: 'xz', args: ['-dc'] };
  if (ext === '.zst') return { name: 'zstd', args: ['-dcq'] };
  return undefined;
}

function wrap(child: ChildProcess, tool: string): NativeTar {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8');
  });
  const ended = new Promise<string | undefined>((resolve) => {
    child.on('error', (err) => resolve(`${tool}: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else resolve(`${tool} ${signal ? `killed by ${signal}` : `exited with ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`);
    });
  });
  return {
    stream: child.stdout!,
    tool,
    async stop() {
      // Closing the pipe ends the program by SIGPIPE, and dpkg-deb then reaps its own decompressing child (a
      // SIGTERM to dpkg-deb would orphan it, still running); one that does not go within 5 s is killed.
      child.stdout?.destroy();
      const timer = setTimeout(() => signalChild(child, 'SIGKILL'), 5000);
      await ended;
      clearTimeout(timer);
    },
    result: () => ended,
  };
}

/**
 * The decompressed data.tar of the .deb at `file` (its data member `name`, `size` bytes from byte `start`),
 * from a program of the build host, or undefined when none that fits is installed.
 */
export function nativeTar(file: string, m: { name: string; start: number; size: number }): NativeTar | undefined {
  const env = { ...process.env, LC_ALL: 'C' };
  const dpkgDeb = onPath('dpkg-deb');
  if (dpkgDeb) {
    const child = spawn(dpkgDeb, ['--fsys-tarfile', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return wrap(child, 'dpkg-deb --fsys-tarfile');
  }
  const f = filterFor(m.name.slice('data.tar'.length));
  const prog = f && onPath(f.name);
  if (!f || !prog) return undefined;
  const child = spawn(prog, f.args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const raw = createReadStream(file, { start: m.start, end: m.start + m.size - 1, highWaterMark: 1 << 16 });
  // The program stopped early closes its input: that is no error of ours.
  child.stdin.on('error', () => raw.destroy());
  raw.on('error', () => child.stdin.destroy());
  raw.pipe(child.stdin);
  const t = wrap(child, `${f.name} ${f.args.join(' ')}`);
  return {
    ...t,
    async stop() {
      raw.destroy();
      await t.stop();
    },
  };
}
