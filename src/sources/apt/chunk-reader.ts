import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { passedThrough } from '../../util/gc.js';
import { signalChild } from '../../util/proc.js';

/**
 * A decompressed tar read by exact counts from a stream's chunks (a decompressing program's stdout, or zlib's
 * output): what a tar walker needs (deb-blocks.ts) to look at 512-byte headers and pass over contents without
 * copying them. `pos` counts from `from`, the uncompressed offset of the stream's first byte.
 */
export class ChunkReader {
  /** Uncompressed offset of the next byte read returns. */
  pos: number;
  private readonly chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;

  constructor(
    out: Readable,
    from: number,
    private readonly end: () => Promise<void>,
  ) {
    this.pos = from;
    this.it = out[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** One more chunk of the stream; false at its end (or its error: reads then come back short). */
  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next().catch(() => ({ done: true as const, value: undefined }));
    if (r.done) {
      this.ended = true;
      return false;
    }
    // Each pipe or decompressor chunk is a Buffer of its own, dead once passed: see util/gc.ts.
    passedThrough(r.value.length);
    this.chunks.push(r.value);
    this.have += r.value.length;
    return true;
  }

  /** Exactly n bytes (one buffer), or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.have < n) if (!(await this.pull())) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks.length = 0;
    const out = all.subarray(0, n);
    if (all.length > n) this.chunks.push(all.subarray(n));
    this.have -= n;
    this.pos += n;
    return out;
  }

  /** Passes over n bytes (whole chunks dropped, none copied); false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      if (this.have === 0 && !(await this.pull())) return false;
      const c = this.chunks[0]!;
      const step = Math.min(n, c.length);
      if (step === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(step);
      this.have -= step;
      this.pos += step;
      n -= step;
    }
    return true;
  }

  /** Stops the stream (the rest is not wanted) and waits for whatever produced it to go. */
  stop(): Promise<void> {
    return this.end();
  }
}

/**
 * Stops a decompressing program: its input closed (EOF: one waiting for more bytes ends) and its output closed
 * (one writing ends by SIGPIPE); one that does not go within 5 s is killed. Resolves once it has gone.
 */
export async function stopChild(child: ChildProcess, input?: Readable): Promise<void> {
  const gone = new Promise<void>((resolve) => {
    // Gone already, or never started (no pid: a failed spawn emits 'error', maybe no 'close').
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    }
  });
  input?.destroy();
  child.stdin?.destroy();
  child.stdout?.destroy();
  const timer = setTimeout(() => signalChild(child, 'SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}
