import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { errnoCode, localWriteError } from '../util/errors.js';
import { SLOT_BYTES, alignedSlots, giveSlot, takeSlot } from './slots.js';

export { SLOT_BYTES, releaseIdleSlots } from './slots.js';

/**
 * Writes a blob's bytes to its partial file through two reused 512 KiB buffers: network chunks are copied in
 * (and can be collected at once), a full buffer is written at its offset while the other one fills.
 *
 * Large blobs are written with O_DIRECT from page-aligned buffers: the bytes go from those two warm buffers
 * to the disk, not through fresh page-cache pages that a later fsync must write back. On the 2-core dev VM
 * that is the difference between ~0.1 s and 0.3-1.5 s of CPU per GiB (dd: 0.08 s sys with oflag=direct,
 * 0.25-1.5 s with conv=fsync), and downloads there are CPU-bound. Where O_DIRECT is refused (tmpfs, some
 * network or FUSE file systems, no WebAssembly for aligned memory) the same code writes through the page
 * cache. Either way the file holds exactly the bytes received when a write error, a network error or Ctrl-C
 * stops it, so a later put resumes after them.
 */

/** Offsets and lengths of O_DIRECT writes are multiples of this (covers 512 and 4096 byte sectors). */
export const DIRECT_ALIGN = 4096;
/** Blobs smaller than this go through the page cache: a few writes, nothing to gain. */
export const DIRECT_MIN_BYTES = 4 * 1024 * 1024;

/** Set once O_DIRECT failed here: later puts go straight to the page cache. */
let directRefused = false;

interface Slot {
  buf: Buffer;
  /** The write of this buffer, while it is queued or running. */
  busy?: Promise<void>;
}

export class BlobWriter {
  private fh: FileHandle;
  private direct: boolean;
  private readonly slots: [Slot, Slot];
  private cur = 0;
  private fill = 0;
  /** File offset of the current buffer's first byte. */
  private pos: number;
  private failure: Error | undefined;
  /** Writes run one after the other; this is the last one. */
  private chain: Promise<void> = Promise.resolve();
  /** End of what is known written: the file is the blob's bytes up to here. */
  private good: number;
  private closed = false;
  private reopening?: Promise<void>;
  /** The second copy (store/tee.ts): written from the same buffers, through the page cache; dropped on a failed write. */
  private tee: FileHandle | undefined;
  private teeLost = false;

  private constructor(
    private readonly path: string,
    fh: FileHandle,
    direct: boolean,
    at: number,
    private readonly end: number,
    tee: FileHandle | undefined,
  ) {
    this.fh = fh;
    this.tee = tee;
    this.direct = direct;
    this.pos = at;
    this.good = at;
    this.slots = [{ buf: takeSlot() }, { buf: takeSlot() }];
  }

  /**
   * Opens `path` for writing from byte `at` on (0 creates or empties it). `at` must be a multiple of
   * DIRECT_ALIGN for O_DIRECT: see `resumeOffset`. `remaining` is how many bytes are still to come. `tee`: a
   * second file that gets the same bytes (a fresh put only: it cannot hold what an earlier attempt wrote).
   */
  static async open(path: string, at: number, remaining: number, o: { direct?: boolean; tee?: string } = {}): Promise<BlobWriter> {
    const flags = constants.O_WRONLY | constants.O_CREAT | (at === 0 ? constants.O_TRUNC : 0);
    const wantDirect = o.direct !== false && BlobWriter.directFor(remaining) && at % DIRECT_ALIGN === 0;
    let fh: FileHandle | undefined;
    let direct = false;
    if (wantDirect) {
      try {
        fh = await open(path, flags | constants.O_DIRECT, 0o644);
        direct = true;
      } catch (err) {
        if (errnoCode(err) !== 'EINVAL') throw localWriteError(err, path);
        directRefused = true;
      }
    }
    try {
      fh ??= await open(path, flags, 0o644);
    } catch (err) {
      throw localWriteError(err, path);
    }
    const teeFlags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW; // tee.ts pathOf
    const tee = o.tee !== undefined && at === 0 ? await open(o.tee, teeFlags, 0o644).catch(() => undefined) : undefined;
    return new BlobWriter(path, fh, direct, at, at + remaining, tee);
  }

  /** Whether the tee file holds every byte written so far (false when there was none or a write to it failed). */
  get teeWhole(): boolean {
    return this.tee !== undefined && !this.teeLost;
  }

  /** Where a resumed put of a partial file of `have` bytes starts writing: O_DIRECT needs aligned offsets. */
  static resumeOffset(have: number, remaining: number): number {
    return BlobWriter.directFor(remaining) ? have - (have % DIRECT_ALIGN) : have;
  }

  /** Whether a put with this many bytes to come is written with O_DIRECT (as far as is known before trying). */
  static directFor(remaining: number): boolean {
    return !directRefused && alignedSlots() && constants.O_DIRECT !== undefined && remaining >= DIRECT_MIN_BYTES;
  }

  /** Copies `chunk` in; returns a promise only when the caller must wait (a full buffer's slot is still busy). */
  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure !== undefined) throw this.failure;
    let off = 0;
    while (off < chunk.byteLength) {
      const slot = this.slots[this.cur]!;
      const n = Math.min(chunk.byteLength - off, SLOT_BYTES - this.fill);
      slot.buf.set(n === chunk.byteLength ? chunk : chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === SLOT_BYTES) {
        this.submit(slot, SLOT_BYTES);
        this.fill = 0;
        this.cur ^= 1;
        const next = this.slots[this.cur]!;
        if (next.busy) {
          // The disk is slower than the network: wait for it, then copy the rest of the chunk.
          const rest = chunk.subarray(off);
          return next.busy.then(() => {
            if (this.failure !== undefined) throw this.failure;
            return rest.byteLength ? this.write(rest) : undefined;
          });
        }
      }
    }
    return undefined;
  }

  private submit(slot: Slot, length: number): void {
    const at = this.pos;
    this.pos += length;
    // The store never hands over more than `remaining` bytes; this guards the disk against a bug here.
    if (this.pos > this.end) throw new Error(`internal error: write past the end of ${this.path} (${this.pos} > ${this.end})`);
    // One write at a time, in file order (the other buffer fills meanwhile): the file is always a prefix of the
    // blob, without holes, even when the process is killed between two writes.
    const done: Promise<void> = this.chain.then(async () => {
      try {
        if (this.failure === undefined) {
          await this.writeAt(slot.buf, length, at);
          this.good = at + length;
        }
      } catch (err) {
        this.failure ??= localWriteError(err, this.path);
      } finally {
        if (slot.busy === done) slot.busy = undefined;
      }
    });
    this.chain = done;
    slot.busy = done;
  }

  private async writeAt(buf: Buffer, length: number, at: number): Promise<void> {
    const tee = this.teeWrite(buf, length, at); // alongside: the two files' writes do not wait for each other
    try {
      await this.writeOut(buf, length, at);
    } finally {
      await tee;
    }
  }

  private async teeWrite(buf: Buffer, length: number, at: number): Promise<void> {
    if (this.tee === undefined || this.teeLost) return;
    try {
      await writeFully(this.tee, buf, length, at);
    } catch {
      this.teeLost = true; // the blob is copied out of the cache instead; the put goes on
    }
  }

  private async writeOut(buf: Buffer, length: number, at: number): Promise<void> {
    if (this.reopening) await this.reopening;
    if (this.direct) {
      const padded = Math.ceil(length / DIRECT_ALIGN) * DIRECT_ALIGN;
      if (padded !== length) buf.fill(0, length, padded);
      try {
        await writeFully(this.fh, buf, padded, at);
        return;
      } catch (err) {
        if (errnoCode(err) !== 'EINVAL') throw err;
        // The file system took O_DIRECT at open but refuses these writes: go on through the page cache.
        await this.toBuffered();
      }
    }
    await writeFully(this.fh, buf, length, at);
  }

  private toBuffered(): Promise<void> {
    this.direct = false;
    directRefused = true;
    this.reopening ??= (async () => {
      await this.fh.close().catch(() => undefined); // waits for the write still running on it
      this.fh = await open(this.path, constants.O_WRONLY);
    })();
    return this.reopening;
  }

  private async settle(): Promise<void> {
    await this.chain;
  }

  /**
   * Writes what is buffered and cuts the file to the bytes received (an O_DIRECT tail is written padded to a
   * whole sector). Returns the file's length. After a failed write the file is cut to what was written before it.
   */
  async flush(): Promise<number> {
    const slot = this.slots[this.cur]!;
    if (this.fill > 0 && this.failure === undefined) {
      await slot.busy;
      this.submit(slot, this.fill);
      this.fill = 0;
    }
    await this.settle();
    if (this.failure !== undefined) {
      await this.fh.truncate(this.good).catch(() => undefined);
      throw this.failure;
    }
    try {
      await this.fh.truncate(this.pos); // drops the padding of an O_DIRECT tail; else a no-op
    } catch (err) {
      throw localWriteError(err, this.path);
    }
    return this.pos;
  }

  /** Everything on disk (flushed, fsynced) and closed. */
  async finish(): Promise<number> {
    const size = await this.flush();
    try {
      await this.fh.sync();
    } catch (err) {
      throw localWriteError(err, this.path);
    }
    await this.close();
    return size;
  }

  /** Stops: keeps what was received when `keep` (so a rerun resumes after it), then closes. */
  async abort(keep: boolean): Promise<void> {
    if (keep) await this.flush().catch(() => undefined);
    else await this.settle().catch(() => undefined);
    await this.close();
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.settle().catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await this.tee?.close().catch(() => {
      this.teeLost = true;
    });
    for (const s of this.slots) giveSlot(s.buf);
  }

  /** For tests: whether this writer bypasses the page cache. */
  get isDirect(): boolean {
    return this.direct;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, length: number, at: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, at + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    done += bytesWritten;
  }
}
