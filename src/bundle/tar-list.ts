import { closeSync, openSync, readSync } from 'node:fs';
import { IntegrityError, UsageError } from '../util/errors.js';
import type { HashJob, Segment } from './hashpool.js';

/** One member of a bundle, whatever its form: where its bytes are, never read until asked. */
export interface BundleEntry {
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  /** What an `other` entry is, in words ("hard link", "FIFO", "character device"…), for messages. */
  what?: string;
  size: number;
  /** Where the bytes are: ranges of one file, or of several parts of a split tar. */
  job: HashJob;
}

/** The bytes of a job, read into memory (small files only: indexes, checksum lists, headers). */
export function readJob(job: HashJob): Buffer {
  const buf = Buffer.alloc(job.length);
  let at = 0;
  for (const seg of job.segments) {
    const fd = openSync(seg.file, 'r');
    try {
      at += readSync(fd, buf, at, seg.length, seg.offset);
    } finally {
      closeSync(fd);
    }
  }
  return buf;
}

/** Files read as one: the parts of a split tar, or a single tar. */
export class Concat {
  private readonly starts: number[] = [];
  readonly size: number;
  constructor(readonly files: readonly { file: string; size: number }[]) {
    let at = 0;
    for (const f of files) {
      this.starts.push(at);
      at += f.size;
    }
    this.size = at;
  }

  /** The segments that hold [pos, pos + length). */
  segments(pos: number, length: number): Segment[] {
    const out: Segment[] = [];
    let i = this.indexAt(pos);
    let left = length;
    while (left > 0 && i < this.files.length) {
      const off = pos - this.starts[i]!;
      const n = Math.min(left, this.files[i]!.size - off);
      if (n > 0) out.push({ file: this.files[i]!.file, offset: off, length: n });
      left -= n;
      pos += n;
      i++;
    }
    return out;
  }

  /** Indexes of the files that [pos, pos + length) touches. */
  filesOf(pos: number, length: number): number[] {
    const first = this.indexAt(pos);
    const last = this.indexAt(Math.max(pos, pos + length - 1));
    return Array.from({ length: last - first + 1 }, (_, k) => first + k);
  }

  read(buf: Buffer, length: number, pos: number): number {
    return readJob({ segments: this.segments(pos, length), length }).copy(buf, 0);
  }

  private indexAt(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

const BLOCK = 512;

/** Tar type flags (POSIX ustar, GNU) that are not a file, folder or symlink, as GNU tar's manual names them. */
const TYPE_NAMES: Record<string, string> = {
  '1': 'hard link',
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
  S: 'GNU sparse file',
  V: 'tape volume label',
  M: 'multi-volume continuation',
  D: 'GNU dump directory',
  N: 'GNU old long name',
};

/** A path that, extracted, would land outside the folder it is extracted into (or is absolute). */
export function leavesRoot(path: string): boolean {
  return path.startsWith('/') || path.split('/').includes('..');
}

/**
 * Lists a tar by walking its 512-byte headers and seeking past the data (POSIX ustar + pax `path`/`size`
 * records, GNU long names, base-256 sizes), so listing a 2 GiB tar reads a few kilobytes. As strict as GNU
 * tar: a header whose checksum (signed or unsigned sum, as GNU tar accepts) or numeric fields do not read is
 * damage, named after the member before it. The archive ends at the first zero block; `end` is where.
 */
export function listTar(src: Concat, name: string, nestedRoot: boolean): { entries: Map<string, BundleEntry>; end: number; last?: string } {
  const raw: BundleEntry[] = [];
  const header = Buffer.alloc(BLOCK);
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  /** The last member read in full: damage after it is named after it. */
  let last: string | undefined;
  const fail = (why: string) => (last === undefined && off === 0 ? notTar(name, why) : damaged(name, why, off, last));
  for (;;) {
    if (off + BLOCK > src.size) throw fail(off === 0 ? 'empty file' : 'it ends before its end-of-archive marker (truncated)');
    src.read(header, BLOCK, off);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw fail('a header block fails its checksum');
    const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]!);
    let size = parseNumber(header.subarray(124, 136));
    const dataAt = off + BLOCK;
    // A crafted size (negative, not a number, past the end) would loop forever or read nowhere.
    const sane = (n: number) => Number.isSafeInteger(n) && n >= 0 && dataAt + n <= src.size;
    if (!Number.isSafeInteger(size) || size < 0) throw fail('bad member size: not a number');
    if (pax.size !== undefined) size = /^\d+$/.test(pax.size) ? Number(pax.size) : NaN;
    if (!sane(size))
      throw fail(
        Number.isSafeInteger(size)
          ? `bad member size: ${size} bytes do not fit the rest of the archive (truncated)`
          : 'bad member size: a pax size does not read',
      );
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L' || type === 'K') {
      const data = Buffer.alloc(Math.min(size, 1 << 20));
      if (size > data.length) throw fail(`an extended header of ${size} bytes`);
      src.read(data, size, dataAt);
      if (type === 'x') pax = { ...pax, ...parsePax(data) };
      else if (type === 'L') longName = data.toString('utf8').replace(/\0+$/, '');
      off = next;
      continue;
    }
    if (type === 'g') {
      off = next;
      continue;
    }
    const prefix = cstr(header.subarray(345, 500));
    const path = (pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(header.subarray(0, 100))}` : cstr(header.subarray(0, 100)))).replace(/\/+$/, '');
    const sparse = Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'));
    let kind: BundleEntry['kind'] = type === '0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other';
    let what = kind === 'other' ? (TYPE_NAMES[type] ?? `tar entry of type '${type}'`) : undefined;
    if (sparse && kind === 'file') [kind, what] = ['other', 'GNU sparse file'];
    // tar -x would write it outside the folder it extracts into: never a file of the bundle, nor clutter.
    if (leavesRoot(path)) [kind, what] = ['other', 'member whose path leaves the bundle folder (absolute, or with "..")'];
    const length = kind === 'file' ? size : 0;
    raw.push({ path, kind, ...(what ? { what } : {}), size: length, job: { segments: src.segments(dataAt, length), length } });
    pax = {};
    longName = undefined;
    last = path;
    off = next;
  }
  return { entries: rooted(raw, nestedRoot), end: off, ...(last !== undefined ? { last } : {}) };
}

/** Bundles written with --tar sit under one top-level folder (name-version/): that folder is the root. */
function rooted(raw: BundleEntry[], nestedRoot: boolean): Map<string, BundleEntry> {
  // A member that leaves the root (reported as such) does not decide where the root is.
  const inside = raw.filter((e) => !leavesRoot(e.path));
  const top = inside[0]?.path.split('/')[0] ?? '';
  const nested = nestedRoot && top !== '' && inside.every((e) => e.path === top || e.path.startsWith(`${top}/`));
  const entries = new Map<string, BundleEntry>();
  for (const e of raw) {
    if (nested && e.path === top) continue;
    const p = nested && e.path.startsWith(`${top}/`) ? e.path.slice(top.length + 1) : e.path;
    entries.set(p, { ...e, path: p });
  }
  return entries;
}

/**
 * A tar file must hold nothing but zeros after its end-of-archive marker: `tar -i` (ignore zero blocks) would
 * extract members there that a reader stopping at the marker never sees. Reads the tail in 1 MiB chunks up to
 * the first byte that is not zero; names a member found there.
 */
export function refuseAfterEnd(src: Concat, name: string, end: number, last: string | undefined): void {
  const chunk = Buffer.alloc(Math.min(1 << 20, Math.max(0, src.size - end)));
  for (let at = end; at < src.size; at += chunk.length) {
    const n = Math.min(chunk.length, src.size - at);
    src.read(chunk, n, at);
    const i = chunk.subarray(0, n).findIndex((b) => b !== 0);
    if (i < 0) continue;
    const where = at + i;
    const block = Buffer.alloc(BLOCK);
    const headerAt = where - (where % BLOCK);
    if (headerAt + BLOCK <= src.size) src.read(block, BLOCK, headerAt);
    const member = headerAt + BLOCK <= src.size && checksumOk(block) ? cstr(block.subarray(0, 100)) : undefined;
    throw new IntegrityError({
      code: 'BAD_TAR',
      message: `${name}: data after the end of the archive (byte ${where}${last !== undefined ? `, after the end-of-archive marker that follows "${last}"` : ''})${member ? `: a member "${member}" that "tar -i" would extract` : ''}; nothing after the marker is part of the bundle`,
      subject: name,
      hint: 'the tar was changed after build (something appended to it): copy it again from the build host or release medium',
    });
  }
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

/**
 * A numeric header field as GNU tar reads it (from_header): GNU base-256 when the top bit is set, else
 * optional leading spaces, octal digits, then only NULs and spaces. Anything else (blanks alone, a stray
 * character after the digits) is NaN: the header is damaged.
 */
export function parseNumber(b: Buffer): number {
  if (b[0]! & 0x80) {
    if (b[0] !== 0x80) return NaN; // a negative base-256 number, or one past 2^53
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const m = /^ *([0-7]+)[ \0]*$/.exec(b.toString('latin1'));
  return m ? parseInt(m[1]!, 8) : NaN;
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const want = parseNumber(h.subarray(148, 156));
  return want === unsigned || want === signed;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function notTar(file: string, why: string): UsageError {
  return new UsageError({
    code: 'NOT_A_BUNDLE',
    message: `${file}: not a bundle folder or a readable tar (${why})`,
    subject: file,
    hint: 'give the folder written by "vault-bundle build" or the file written by "build --tar"; a damaged tar must be copied again',
  });
}

function damaged(file: string, why: string, off: number, last: string | undefined): IntegrityError {
  return new IntegrityError({
    code: 'BAD_TAR',
    message: `${file}: damaged: ${why}, ${last === undefined ? 'at its first member' : `after the member "${last}"`} (byte ${off})`,
    subject: file,
    hint: 'the tar was damaged in the copy: copy it again from the build host or release medium, and verify it again',
  });
}
