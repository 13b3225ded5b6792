import type { FileHandle } from 'node:fs/promises';

/**
 * Appends chunks to an open file in order, as a few large writes instead of one per network chunk: what arrives
 * while a write is in the kernel is gathered and goes out as the next one (writev, no copy). One write is in
 * flight at a time, so the file is always a whole prefix of what was appended (a resumable `.part` never has a
 * hole, whenever the process is killed), and receiving goes on while the last batch is written. At most `max`
 * bytes wait in memory; past that, `append` waits for the write in flight.
 */
export class Appender {
  private waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  private inFlight: Promise<void> | undefined;
  private failed: { err: unknown } | undefined;

  constructor(
    private readonly fh: FileHandle,
    private pos: number,
    private readonly o: { batch: number; max: number } = { batch: 1 << 20, max: 16 << 20 },
  ) {}

  /** Queues `chunk` (kept by reference: the caller must not reuse its memory); waits only when `max` bytes wait. */
  async append(chunk: Uint8Array): Promise<void> {
    this.throwIfFailed();
    this.waiting.push(chunk);
    this.waitingBytes += chunk.byteLength;
    if (!this.inFlight && this.waitingBytes >= this.o.batch) this.flush();
    while (this.waitingBytes >= this.o.max && this.inFlight) await this.inFlight;
    this.throwIfFailed();
  }

  /** Writes what waits and resolves once every byte appended is in the file (not synced: the caller decides). */
  async end(): Promise<void> {
    for (;;) {
      while (this.inFlight) await this.inFlight;
      this.throwIfFailed();
      if (this.waitingBytes === 0) return;
      this.flush();
    }
  }

  /** Bytes written to the file so far (its size: a whole prefix). */
  get written(): number {
    return this.pos;
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed.err;
  }

  private flush(): void {
    const chunks = this.waiting;
    const bytes = this.waitingBytes;
    this.waiting = [];
    this.waitingBytes = 0;
    this.inFlight = this.writeAll(chunks, bytes).then(
      () => {
        this.pos += bytes;
        this.inFlight = undefined;
        // What gathered meanwhile goes next, without waiting for the caller's next chunk.
        if (this.waitingBytes >= this.o.batch) this.flush();
      },
      (err: unknown) => {
        this.failed = { err };
        this.inFlight = undefined;
      },
    );
  }

  private async writeAll(chunks: Uint8Array[], bytes: number): Promise<void> {
    let at = this.pos;
    let left = bytes;
    let bufs = chunks;
    while (left > 0) {
      const { bytesWritten } = await this.fh.writev(bufs, at);
      if (bytesWritten <= 0) throw new Error(`short write at offset ${at}`);
      at += bytesWritten;
      left -= bytesWritten;
      bufs = skipBytes(bufs, bytesWritten);
    }
  }
}

/** The chunks without their first `n` bytes (after a short write). */
function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    if (n >= c.byteLength) {
      n -= c.byteLength;
      continue;
    }
    out.push(n > 0 ? c.subarray(n) : c);
    n = 0;
  }
  return out;
}
