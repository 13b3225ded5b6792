import { closeSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDone, tempSibling } from './temp.js';

const STAGE = 1 << 20;
const WINDOW = 1 << 20;

/** Where a row's bytes are to be read: `buf[at..end)`, valid until the next call on the same Spill. */
export interface RowView {
  buf: Buffer;
  at: number;
  end: number;
}

/**
 * Append-only byte rows that a process keeps for a while but reads little of, out of its memory: written in
 * 1 MiB pieces to a file that is unlinked as soon as it is opened (nothing is left behind by a kill; the
 * kernel keeps its pages in the page cache, not in the process's resident set, and may write them to disk).
 * Rows are read back one at a time, by exact reads (random look-ups) or through a 1 MiB window that follows a
 * scan from row to row. Without a folder (or where the file cannot be made) the pieces stay in memory.
 *
 * apt's lock keeps the Packages stanzas of every index in one (67,000 rows, ~20 MB for Debian's four
 * components): the resolver reads a few thousand of them, and each once more in a scan.
 */
export class Spill {
  private fd: number | undefined;
  /** Memory mode: the pieces, each with the offset of its first byte. */
  private readonly pieces: Buffer[] = [];
  private readonly starts: number[] = [];
  private stage = Buffer.allocUnsafeSlow(STAGE);
  private staged = 0;
  /** Bytes before the stage (written to the file, or kept in `pieces`). */
  private done = 0;
  private window = Buffer.alloc(0);
  private winAt = 0;
  private winEnd = 0;
  private scratch = Buffer.alloc(0);

  /** `dir`: a folder on a local disk (the cache's partial/); none keeps the rows in memory. */
  constructor(dir?: string) {
    if (dir === undefined) return;
    try {
      mkdirSync(dir, { recursive: true });
      const path = tempSibling(join(dir, 'spill'));
      this.fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      tempDone(path);
    } catch {
      this.fd = undefined; // a read-only or full cache: memory it is
    }
  }

  /** Whether the rows live in a file. */
  get onDisk(): boolean {
    return this.fd !== undefined;
  }

  /** Bytes written so far: the offset the next row starts at. */
  get size(): number {
    return this.done + this.staged;
  }

  /** Room for a row of `need` bytes: write it at `buf[at..]`, then call `commit` with its end. */
  room(need: number): { buf: Buffer; at: number } {
    if (this.staged + need > this.stage.length) {
      this.flush();
      if (need > this.stage.length) this.stage = Buffer.allocUnsafeSlow(need);
    }
    return { buf: this.stage, at: this.staged };
  }

  commit(end: number): void {
    this.staged = end;
  }

  private flush(): void {
    if (this.staged === 0) return;
    if (this.fd === undefined) {
      this.pieces.push(this.stage.subarray(0, this.staged));
      this.starts.push(this.done);
      this.stage = Buffer.allocUnsafeSlow(STAGE);
    } else {
      for (let p = 0; p < this.staged;) p += writeSync(this.fd, this.stage, p, this.staged - p, this.done + p);
    }
    this.done += this.staged;
    this.staged = 0;
  }

  /**
   * The row at [off, end). `scan`: rows are being read in order (the window moves forward a MiB at a time);
   * else one exact read.
   */
  row(off: number, end: number, scan: boolean): RowView {
    if (off >= this.done) return { buf: this.stage, at: off - this.done, end: end - this.done };
    if (this.fd === undefined) {
      let lo = 0;
      let hi = this.starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.starts[mid]! <= off) lo = mid;
        else hi = mid - 1;
      }
      return { buf: this.pieces[lo]!, at: off - this.starts[lo]!, end: end - this.starts[lo]! };
    }
    if (off >= this.winAt && end <= this.winEnd) return { buf: this.window, at: off - this.winAt, end: end - this.winAt };
    if (scan) {
      if (this.window.length < Math.max(WINDOW, end - off)) this.window = Buffer.allocUnsafeSlow(Math.max(WINDOW, end - off));
      this.winAt = off;
      this.winEnd = off + this.read(this.window, off, Math.min(this.window.length, this.done - off));
      return { buf: this.window, at: 0, end: end - off };
    }
    if (this.scratch.length < end - off) this.scratch = Buffer.allocUnsafe(Math.max(4096, end - off));
    this.read(this.scratch, off, end - off);
    return { buf: this.scratch, at: 0, end: end - off };
  }

  /** A copy of the bytes at [off, end), rows of any length and wherever they are (file, pieces, stage); into `into` if given. */
  bytes(off: number, end: number, into?: Buffer): Buffer {
    const out = into ? into.subarray(0, end - off) : Buffer.allocUnsafe(end - off);
    let p = off;
    while (p < end) {
      if (p >= this.done) {
        this.stage.copy(out, p - off, p - this.done, end - this.done);
        break;
      }
      const upTo = Math.min(end, this.done);
      if (this.fd !== undefined) {
        if (this.read(out.subarray(p - off), p, upTo - p) < upTo - p) throw new Error('the spill file is shorter than what was written to it');
        p = upTo;
        continue;
      }
      const k = this.starts.findLastIndex((s) => s <= p);
      const piece = this.pieces[k]!;
      const n = Math.min(upTo, this.starts[k]! + piece.length) - p;
      piece.copy(out, p - off, p - this.starts[k]!, p - this.starts[k]! + n);
      p += n;
    }
    return out;
  }

  private read(buf: Buffer, off: number, len: number): number {
    let n = 0;
    while (n < len) {
      const r = readSync(this.fd!, buf, n, len - n, off + n);
      if (r === 0) break;
      n += r;
    }
    return n;
  }

  /** Closes the file (its pages go with it); rows can no longer be read. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.pieces.length = 0;
    this.window = this.stage = this.scratch = Buffer.alloc(0);
  }
}
