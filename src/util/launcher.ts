import { type ChildProcess, spawn } from 'node:child_process';
import { constants, open as openCallback } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDir } from './temp.js';

/**
 * Short-lived programs started by a small shell that this process starts once, instead of by this process.
 *
 * Why: fork(2) costs in proportion to the forking process's memory. Node at ~150 MB RSS spends ~12 ms of its main
 * thread in each `spawn` (page tables copied, then torn down by the child's exec; `/usr/bin/true` 100 times: 2.3 ms
 * each at 48 MiB RSS, 12.5 ms at 149, 28.5 ms at 349), while `sh` forks in well under a millisecond. A cold build of
 * nvidia-debian12 starts 286 decompressors for the SBOM's licence reads: ~2.2 s of the main thread in `spawn`
 * (issue #14), during the downloads it should be serving.
 *
 * How: the shell reads one command a line from its stdin. A job's stdout is a FIFO in a private folder, opened here
 * (non-blocking, read end) before the job is started, so the job's open of the write end never waits; the shell
 * writes `e <id> <status>` on its own channel when the job has gone. Closing the read end stops a job (its next
 * write gets SIGPIPE), as closing a child's stdout pipe does. The shell is its own process group: when this
 * process goes (even by SIGKILL) the shell's stdin ends, and it ends its group, jobs included. `closeLauncher`
 * (the CLI's end) stops any job still running (nothing reads it any more), lets the shell reap its jobs and exit,
 * and waits for it: the jobs' CPU time then counts in this process's children's, as a spawned child's does (GNU
 * time, the benches).
 *
 * Anything that does not go as planned (no /bin/sh, no mkfifo, the shell gone) makes `launch` answer undefined and
 * the caller spawns the program itself.
 */
export interface Launched {
  /** The program's stdout. */
  stdout: Readable;
  /** Its exit status (the shell's `$?`: 128 + n for signal n); -1 when the shell went first. */
  exited: Promise<number>;
  /** Stops the program (its output is no longer wanted) and waits for it to go. */
  stop(): Promise<void>;
}

/** What feeds the program's stdin: a file from a byte offset to its end. */
export interface FileFrom {
  path: string;
  offset: number;
}

const openFd = promisify(openCallback);

// Replies on fd 9 (the shell's stdout as it started); the shell's own stdout and stderr, and its jobs', go nowhere.
// Its stdin ending without `wait; exit 0` (this process gone) ends its process group.
const SCRIPT = 'exec 9>&1 >/dev/null 2>&1\nwhile IFS= read -r line; do eval "$line"; done\nkill -TERM 0';

/** A word for sh: single-quoted, its single quotes closed, escaped and reopened. */
export function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

class Launcher {
  private next = 0;
  private readonly waiting = new Map<string, (reply: string) => void>();
  private gone = false;
  private buffered = '';
  /** The stops of the jobs still running: called at `close` (nothing reads them any more), so none outlives the CLI. */
  private readonly live = new Set<() => Promise<void>>();

  constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => this.onReplies(s));
    const end = () => {
      this.gone = true;
      for (const w of this.waiting.values()) w('gone');
      this.waiting.clear();
    };
    child.on('close', end);
    child.on('error', end);
    child.stdin!.on('error', end);
    // Neither the shell nor its pipes keep this process alive.
    child.unref();
    this.replies.unref();
    (child.stdin as unknown as Socket).unref();
  }

  private onReplies(s: string): void {
    this.buffered += s;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const [kind, id, status] = this.buffered.slice(0, nl).split(' ');
      this.buffered = this.buffered.slice(nl + 1);
      const key = `${kind === 'e' ? 'e' : 's'}${id}`;
      const w = this.waiting.get(key);
      this.waiting.delete(key);
      w?.(kind === 'e' ? (status ?? '-1') : (kind ?? ''));
    }
    if (this.waiting.size === 0) this.replies.unref();
  }

  /** The shell's replies: they keep this process alive only while one is awaited. */
  private get replies(): Socket {
    return this.child.stdout as unknown as Socket;
  }

  /** Sends one command line; resolves with the reply `key` waits for (`s<id>`: the FIFO is made, `e<id>`: the job's status). */
  private ask(line: string, key: string): Promise<string> {
    if (this.gone) return Promise.resolve('gone');
    const reply = new Promise<string>((r) => this.waiting.set(key, r));
    this.replies.ref();
    this.child.stdin!.write(`${line}\n`);
    return reply;
  }

  /** Stops the jobs still running; the shell reaps them and exits; resolves when it has gone (at most `ms` later: then its group is killed). */
  async close(ms: number): Promise<void> {
    await Promise.all([...this.live].map((stop) => stop()));
    if (!this.gone) {
      const closed = new Promise<void>((r) => this.child.once('close', () => r()));
      this.child.stdin!.end('wait; exit 0\n');
      // The shell leads its own process group: a kill of the group takes the jobs with it.
      const timer = setTimeout(() => {
        try {
          process.kill(-this.child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }, ms);
      await closed;
      clearTimeout(timer);
    }
    await removeTempDir(this.dir);
  }

  async launch(argv: readonly string[], from: FileFrom): Promise<Launched | undefined> {
    const id = this.next++;
    const fifo = join(this.dir, String(id));
    const q = shellWord(fifo);
    if ((await this.ask(`if mkfifo ${q}; then echo "r ${id}" >&9; else echo "f ${id}" >&9; fi`, `s${id}`)) !== 'r') return undefined;
    // A plain descriptor (not a FileHandle, which would close it when collected): the socket owns it.
    const fd = await openFd(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    if (fd === undefined) {
      await unlink(fifo).catch(() => undefined);
      return undefined;
    }
    const stdout = new Socket({ fd, readable: true, writable: false });
    const exited = this.ask(
      `( tail -c +${from.offset + 1} ${shellWord(from.path)} | ${argv.map(shellWord).join(' ')} > ${q}; echo "e ${id} $?" >&9 ) &`,
      `e${id}`,
    ).then((s) => {
      unlink(fifo).catch(() => undefined);
      return s === 'gone' ? -1 : Number(s);
    });
    let done = false;
    const stop = async () => {
      stdout.destroy();
      // A job not yet past its open of the write end would wait there for a reader: give it one, briefly.
      for (let i = 0; i < 50 && !done; i++) {
        const poke = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
        await poke?.close();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
      }
    };
    this.live.add(stop);
    void exited.then(() => {
      done = true;
      this.live.delete(stop);
    });
    return { stdout, exited, stop };
  }
}

let started: Promise<Launcher | undefined> | undefined;

async function start(): Promise<Launcher | undefined> {
  if (process.platform !== 'linux') return undefined;
  let dir: string;
  try {
    dir = await makeTempDir('vault-jobs');
  } catch {
    return undefined;
  }
  const child = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'], detached: true, env: { ...process.env, LC_ALL: 'C' } });
  const ok = await new Promise<boolean>((r) => {
    child.once('spawn', () => r(true));
    child.once('error', () => r(false));
  });
  return ok ? new Launcher(child, dir) : undefined;
}

/**
 * Starts `argv` (an absolute program path and its arguments) through the shared shell, its stdin the file `from`
 * its offset on; undefined where that cannot be done here (the caller spawns it itself).
 */
export async function launch(argv: readonly string[], from: FileFrom): Promise<Launched | undefined> {
  if (process.env.VAULT_LAUNCHER === '0') return undefined;
  started ??= start();
  const l = await started;
  return l?.launch(argv, from);
}

/** Ends the shared shell, if one was started, and any job still running (the CLI calls this at its end). */
export async function closeLauncher(): Promise<void> {
  const l = await started;
  started = undefined;
  await l?.close(10_000);
}
