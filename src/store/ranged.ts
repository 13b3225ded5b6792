import { constants } from 'node:fs';
import { type FileHandle, chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, UpstreamError, localWriteError } from '../util/errors.js';
import { passedThrough } from '../util/gc.js';
import type { Digest } from './digest.js';
import { markAfter, recordLanded, statBlob } from './proof.js';
import { type Blob, type Expectation, type Store, BLOBS_DIR, mismatchHint } from './store.js';

/** One byte range [start, end) of a blob, `have` bytes of it (from `start` on) already written. */
export interface Part {
  start: number;
  end: number;
  have: number;
}

/** Journal of a ranged partial file: which bytes of each part are on disk (it may lag behind them, never lead). */
interface Journal {
  size: number;
  parts: [number, number, number][];
}

/**
 * Bytes gathered from the network before one positional writev: few syscalls, and no copy in JavaScript. Every
 * ranged stream holds up to this much while its write runs (up to 32 streams): 1 MiB made 32 MB of live socket
 * buffers when the disk lagged (a cold nvidia-debian12 build beside a writing `dd`: peak RSS 151 MiB, issue #14);
 * 256 KiB bounds it to 8 MB for ~8,000 more writev calls in a 2.7 GB build.
 */
const WRITE_BYTES = 256 << 10;
/** The journal is rewritten at most this often while bytes stream in (and always when a part stops). */
const JOURNAL_EVERY_MS = 500;

const journalPath = (store: Store, d: Digest) => store.journalPath(d);

/** Drops a ranged partial file and its journal (a single-stream put must not take a file with holes for a prefix). */
export async function dropRanged(store: Store, d: Digest): Promise<boolean> {
  if (!(await stat(journalPath(store, d)).catch(() => undefined))) return false;
  await rm(store.partialPath(d), { force: true });
  await rm(journalPath(store, d), { force: true });
  return true;
}

/** Cuts [from, size) into parts of about `partBytes`. */
function split(from: number, size: number, partBytes: number): Part[] {
  const parts: Part[] = [];
  for (let s = from; s < size; s += partBytes) parts.push({ start: s, end: Math.min(size, s + partBytes), have: 0 });
  return parts;
}

/**
 * A blob being downloaded as several byte ranges at once into one file (each part written at its offset), with a
 * journal of what each part holds so that a rerun fetches only what is missing. Nothing is trusted until the whole
 * file hashes to the expected digest (`land`); wrong bytes in any part refuse the whole file, which is dropped.
 */
export class RangedFile {
  private journalAt = 0;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    readonly expect: Expectation,
    private readonly fh: FileHandle,
    readonly parts: Part[],
    /** Bytes already on disk when this run began (an earlier run's, or an earlier attempt's). */
    readonly resumedBytes: number,
  ) {}

  get path(): string {
    return this.store.partialPath(this.expect.digest);
  }

  /** Opens (or resumes) the partial file of `expect`, cut into parts of `partBytes`. */
  static async open(store: Store, expect: Expectation, partBytes: number): Promise<RangedFile> {
    const path = store.partialPath(expect.digest);
    const size = expect.size;
    try {
      await mkdir(join(store.root, BLOBS_DIR), { recursive: true });
      await mkdir(join(store.root, 'partial'), { recursive: true });
    } catch (err) {
      throw localWriteError(err, store.root);
    }
    const onDisk = await stat(path).catch(() => undefined);
    let parts = onDisk ? await readJournal(store, expect) : undefined;
    if (!parts && onDisk && onDisk.size <= size && !(await stat(journalPath(store, expect.digest)).catch(() => undefined))) {
      // A single-stream download's partial file: a prefix of the blob.
      parts = [{ start: 0, end: onDisk.size, have: onDisk.size }, ...split(onDisk.size, size, partBytes)].filter((p) => p.end > p.start);
    }
    if (!parts) {
      await rm(path, { force: true });
      parts = split(0, size, partBytes);
    }
    let fh: FileHandle;
    try {
      // A run killed while its whole file was being hashed left it read-only (land): it is resumed as it is.
      if (onDisk && (onDisk.mode & 0o200) === 0) await chmod(path, 0o644).catch(() => undefined);
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
      await fh.truncate(size);
    } catch (err) {
      throw localWriteError(err, path);
    }
    const f = new RangedFile(
      store,
      expect,
      fh,
      parts,
      parts.reduce((n, p) => n + p.have, 0),
    );
    await f.saveJournal(true);
    return f;
  }

  /** Bytes still to fetch. */
  get missing(): number {
    return this.parts.reduce((n, p) => n + (p.end - p.start - p.have), 0);
  }

  /**
   * Writes a part's bytes from `start + have` on, as they come; bytes past the part's end are not taken (a
   * server that ignores the end of a Range). A body that ends early is a transient network failure.
   */
  async writePart(part: Part, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onBytes?: (n: number) => void): Promise<void> {
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const n = pendingBytes;
      await this.writeAll(pending, part.start + part.have);
      pending = [];
      pendingBytes = 0;
      part.have += n;
      onBytes?.(n);
      await this.saveJournal(false);
    };
    try {
      for await (const raw of body) {
        passedThrough(raw.byteLength);
        const left = part.end - part.start - part.have - pendingBytes;
        const chunk = raw.byteLength > left ? raw.subarray(0, left) : raw;
        if (chunk.byteLength > 0) {
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
        }
        if (pendingBytes >= WRITE_BYTES || pendingBytes === part.end - part.start - part.have) await flush();
        if (part.have === part.end - part.start) break; // the rest of an over-long body is dropped with it
      }
      await flush();
    } catch (err) {
      // What was received is on disk before the error goes on, so the rerun resumes after it.
      await flush().catch(() => undefined);
      throw err;
    } finally {
      await this.saveJournal(true).catch(() => undefined);
    }
    if (part.have < part.end - part.start) throw this.endedEarly(part);
  }

  /** A part's body ended before its last byte: a transient network failure (retried, or resumed by a rerun). */
  endedEarly(part: Part): UpstreamError {
    return new UpstreamError({
      code: 'NETWORK',
      message: `${this.expect.subject}: the connection ended after ${part.start + part.have} of bytes ${part.start}-${part.end - 1}`,
      subject: this.expect.subject,
      hint: 'check the network or proxy settings; a rerun resumes where this stopped',
    });
  }

  /** `n` more bytes of `part` are on disk (written by a fetch thread at the part's next offset): journaled, now and then. */
  took(part: Part, n: number): void {
    part.have += n;
    this.saveJournal(false).catch(() => undefined);
  }

  private async writeAll(chunks: Uint8Array[], at: number): Promise<void> {
    let pos = at;
    let list = chunks;
    try {
      while (list.length > 0) {
        const { bytesWritten } = await this.fh.writev(list, pos);
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        pos += bytesWritten;
        let skip = bytesWritten;
        while (list.length > 0 && skip >= list[0]!.byteLength) skip -= list.shift()!.byteLength;
        if (skip > 0) list = [list[0]!.subarray(skip), ...list.slice(1)];
      }
    } catch (err) {
      throw localWriteError(err, this.path);
    }
  }

  /** Rewrites the journal (temp + rename), at most every JOURNAL_EVERY_MS unless `now`; one write at a time. */
  saveJournal(now: boolean): Promise<void> {
    if (!now && performance.now() - this.journalAt < JOURNAL_EVERY_MS) return this.saving;
    this.journalAt = performance.now();
    const j: Journal = { size: this.expect.size, parts: this.parts.map((p) => [p.start, p.end, p.have]) };
    const to = journalPath(this.store, this.expect.digest);
    this.saving = this.saving.then(async () => {
      const tmp = `${to}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(j));
      } finally {
        await fh.close();
      }
      await rename(tmp, to);
    });
    return this.saving;
  }

  /** Stops: what was written stays, with its journal, for a rerun to resume from. */
  async close(): Promise<void> {
    await this.saveJournal(true).catch(() => undefined);
    await this.fh.close().catch(() => undefined);
  }

  /**
   * Every part is written: the whole file is synced, hashed (`hashWhole`, a worker thread in a build) and lands
   * in the store only when it is the expected blob; else it and its journal are dropped and the file is refused.
   */
  async land(hashWhole: (path: string) => Promise<Digest>): Promise<Blob> {
    const { expect } = this;
    try {
      await this.fh.sync();
    } catch (err) {
      await this.close();
      throw localWriteError(err, this.path);
    }
    await this.close();
    try {
      await chmod(this.path, 0o444); // before the hash: its ctime change is then older than the mark (proof.ts)
    } catch (err) {
      throw localWriteError(err, this.path);
    }
    const changed = await statBlob(this.path).catch(() => undefined);
    const mark = changed && (await markAfter(this.store.root, changed.ctimeNs));
    const before = await statBlob(this.path).catch(() => undefined);
    const found = await hashWhole(this.path);
    const after = await statBlob(this.path).catch(() => undefined);
    if (found !== expect.digest) {
      await rm(this.path, { force: true });
      await rm(journalPath(this.store, expect.digest), { force: true });
      throw new IntegrityError({
        code: 'DIGEST_MISMATCH',
        message: `${expect.subject}: expected ${expect.digest}, found ${found} (downloaded in ${this.parts.length} ranges; the whole file is refused)`,
        subject: expect.subject,
        expected: expect.digest,
        found,
        hint: mismatchHint(expect.pinnedBy, this.resumedBytes > 0),
      });
    }
    const final = this.store.path(expect.digest);
    try {
      await rename(this.path, final);
    } catch (err) {
      throw localWriteError(err, final);
    }
    await rm(journalPath(this.store, expect.digest), { force: true });
    // Read back whole and hashed here: the copy out of the cache need not hash it again (proof.ts).
    if (before && after && before.size === BigInt(expect.size)) await recordLanded(this.store.root, expect.digest, final, before, after, mark);
    return { digest: expect.digest, size: expect.size };
  }
}

/** The journal's parts when it belongs to this blob and covers it exactly; else undefined (start afresh). */
async function readJournal(store: Store, expect: Expectation): Promise<Part[] | undefined> {
  try {
    const j = JSON.parse(await readFile(journalPath(store, expect.digest), 'utf8')) as Journal;
    if (j.size !== expect.size || !Array.isArray(j.parts)) return undefined;
    const parts = j.parts.map(([start, end, have]) => ({ start, end, have }));
    let at = 0;
    for (const p of parts) {
      if (p.start !== at || !(p.end > p.start) || !(p.have >= 0 && p.have <= p.end - p.start)) return undefined;
      at = p.end;
    }
    return at === expect.size ? parts : undefined;
  } catch {
    return undefined;
  }
}
