import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, UsageError } from '../util/errors.js';
import { exists, walk } from '../util/fs.js';
import { type HashJob, type Segment, wholeFile } from './hashpool.js';
import { INDEX, PARTS, PART_NAME, SUMS } from './layout.js';
import { type PartsManifest, readPartsManifest } from './parts.js';

export interface BundleEntry {
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** Where the bytes are: ranges of one file, or of several parts of a split tar. */
  job: HashJob;
}

/** A bundle as a list of entries, whether it is a folder, a tar file or a folder of tar parts; reading never extracts. */
export interface BundleReader {
  readonly location: string;
  /** dir: a folder of whole files; tar: one tar file; split: a folder of small files plus the blobs in parts. */
  readonly form: 'dir' | 'tar' | 'split';
  readonly entries: Map<string, BundleEntry>;
  /** The parts of a split bundle (parts.json), when it is one. */
  readonly parts?: SplitParts;
  read(path: string, maxBytes: number): Promise<Buffer>;
}

export async function openBundle(location: string): Promise<BundleReader> {
  let st;
  try {
    st = await stat(location);
  } catch {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no such bundle folder or tar file`,
      subject: location,
      hint: 'give the folder written by "vault-bundle build" (e.g. bundles/quickstart) or its .tar',
    });
  }
  if (!st.isDirectory()) return marked(await openTar(location));
  if (await exists(join(location, PARTS))) return openSplit(location);
  // Parts without the parts.json that says how to read them: not a folder bundle with stray files.
  const part = (await readdir(location)).filter((n) => PART_NAME.test(n)).sort()[0];
  if (part) {
    throw new IntegrityError({
      code: 'BAD_PARTS',
      message: `${location}: ${PARTS} missing: copy it again (this is a split bundle: its blobs are in ${part} and the parts after it, which ${PARTS} lists)`,
      subject: join(location, PARTS),
      hint: `copy ${PARTS} from the release medium into this folder, beside ${part}, then run verify again`,
    });
  }
  // Listing walks the whole tree: `install .` run from / or /usr would read for seconds and then trip over
  // /proc. A bundle folder has bundle.json or SHA256SUMS at its top (a damaged copy keeps at least one, and
  // verify then names what is missing), so look for them first.
  if (!(await exists(join(location, INDEX))) && !(await exists(join(location, SUMS)))) throw notABundle(location, 'folder');
  return openDir(location);
}

/** A tar (listing one is cheap) with neither bundle.json nor SHA256SUMS is some other tar. */
function marked(r: BundleReader): BundleReader {
  if (!r.entries.has(INDEX) && !r.entries.has(SUMS)) throw notABundle(r.location, 'tar');
  return r;
}

function notABundle(location: string, form: 'folder' | 'tar'): UsageError {
  return new UsageError({
    code: 'NOT_A_BUNDLE',
    message: `${location}: not a vault-bundle bundle (this ${form} has no ${INDEX} and no ${SUMS}${form === 'folder' ? ` or ${PARTS}` : ''})`,
    subject: location,
    hint: 'give the folder, tar or split folder written by "vault-bundle build" (on the box: cd into the bundle folder and use ".")',
  });
}

/** The bytes of a job, read into memory (small files only: indexes, checksum lists). */
function readJob(job: HashJob): Buffer {
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

function makeReader(location: string, form: BundleReader['form'], entries: Map<string, BundleEntry>, parts?: SplitParts): BundleReader {
  return {
    location,
    form,
    entries,
    ...(parts ? { parts } : {}),
    async read(path, maxBytes) {
      const e = entries.get(path);
      const why = !e ? 'missing' : e.kind !== 'file' ? `a ${e.kind}, not a file` : e.size > maxBytes ? `larger than ${maxBytes} bytes` : undefined;
      if (why) {
        throw new IntegrityError({
          code: 'MISSING_FILE',
          message: `${location}: ${path} is ${why}`,
          subject: `${location}/${path}`,
          hint: 'run "vault-bundle verify" on it; copy the bundle again from the build host',
        });
      }
      return readJob(e!.job);
    },
  };
}

async function listDir(root: string, skip: (path: string) => boolean = () => false): Promise<Map<string, BundleEntry>> {
  const entries = new Map<string, BundleEntry>();
  for (const e of await walk(root)) {
    if (skip(e.path)) continue;
    const file = join(root, e.path);
    const size = e.kind === 'file' ? (await stat(file)).size : 0;
    entries.set(e.path, { path: e.path, kind: e.kind, size, job: wholeFile(file, size) });
  }
  return entries;
}

async function openDir(root: string): Promise<BundleReader> {
  return makeReader(root, 'dir', await listDir(root));
}

/** Files read as one: the parts of a split tar, or a single tar. */
class Concat {
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

/**
 * Lists a tar by walking its 512-byte headers and seeking past the data (POSIX ustar + pax `path`/`size`
 * records, GNU long names), so listing a 2 GiB tar reads a few kilobytes. A single top-level folder is
 * taken as the bundle root.
 */
export async function openTar(file: string): Promise<BundleReader> {
  const size = (await stat(file)).size;
  return makeReader(file, 'tar', listTar(new Concat([{ file, size }]), file, true).entries);
}

/** The members of a tar, and where its end-of-archive marker (the first all-zero header block) starts. */
function listTar(src: Concat, name: string, nestedRoot: boolean): { entries: Map<string, BundleEntry>; end: number } {
  const raw: BundleEntry[] = [];
  const header = Buffer.alloc(512);
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  for (;;) {
    if (off + 512 > src.size) throw notTar(name, `truncated header at byte ${off}`);
    src.read(header, 512, off);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw notTar(name, `bad header checksum at byte ${off}`);
    const type = String.fromCharCode(header[156]!) || '0';
    let size = parseNumber(header.subarray(124, 136));
    const dataAt = off + 512;
    // A crafted size (negative, not a number, past the end) would loop forever or read nowhere.
    const sane = (n: number) => Number.isSafeInteger(n) && n >= 0 && dataAt + n <= src.size;
    if (!sane(size)) throw notTar(name, `bad member size at byte ${off}`);
    const next = dataAt + Math.ceil(size / 512) * 512;
    if (type === 'x' || type === 'L') {
      const data = Buffer.alloc(size);
      src.read(data, size, dataAt);
      if (type === 'x') pax = parsePax(data);
      else longName = data.toString('utf8').replace(/\0+$/, '');
      off = next;
      continue;
    }
    if (type === 'g') {
      off = next;
      continue;
    }
    const prefix = cstr(header.subarray(345, 500));
    let path = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(header.subarray(0, 100))}` : cstr(header.subarray(0, 100)));
    if (pax.size !== undefined) {
      size = Number(pax.size);
      if (!sane(size)) throw notTar(name, `bad pax size at byte ${off}`);
    }
    path = path.replace(/\/+$/, '');
    const kind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : 'other';
    const length = kind === 'file' ? size : 0;
    raw.push({ path, kind, size: length, job: { segments: src.segments(dataAt, length), length } });
    pax = {};
    longName = undefined;
    off = dataAt + Math.ceil(size / 512) * 512;
  }
  // Bundles written with --tar sit under one top-level folder (name-version/): that folder is the root.
  const top = raw[0]?.path.split('/')[0] ?? '';
  const nested = nestedRoot && top !== '' && raw.every((e) => e.path === top || e.path.startsWith(`${top}/`));
  const entries = new Map<string, BundleEntry>();
  for (const e of raw) {
    if (nested && e.path === top) continue;
    const p = nested ? e.path.slice(top.length + 1) : e.path;
    entries.set(p, { ...e, path: p });
  }
  return { entries, end: off };
}

/** parts.json as read, and which parts are missing or of the wrong size (nothing in them can be read). */
export interface SplitParts {
  manifest: PartsManifest;
  /** Absolute paths of the parts, in order. */
  files: string[];
  /** Parts that are absent or have another size than parts.json says. */
  broken: { index: number; file: string; why: string }[];
  /** Parts that hold bytes after the end of the tar (its two zero blocks, zero padding to a 10 KiB record). */
  extra: { index: number; file: string; why: string }[];
  /** Indexes of the parts that hold [pos, pos + length) of the whole tar, for naming a damaged part. */
  partsOf(job: HashJob): number[];
}

/**
 * A split bundle: the small files lie in the folder as they are, the blobs are in one tar cut into parts
 * (FAT32 holds no file of 4 GiB). The tar is read across the parts in place, never reassembled.
 */
async function openSplit(root: string): Promise<BundleReader> {
  const manifest = await readPartsManifest(root);
  const partNames = new Set(manifest.parts.map((p) => p.file));
  // parts.json itself is an entry (SHA256SUMS lists it); the parts are its to list.
  const entries = await listDir(root, (p) => partNames.has(p));
  const files = manifest.parts.map((p) => join(root, p.file));
  const broken: SplitParts['broken'] = [];
  for (const [index, p] of manifest.parts.entries()) {
    const st = await stat(files[index]!).catch(() => undefined);
    if (!st) broken.push({ index, file: p.file, why: 'missing' });
    else if (st.size !== p.size) broken.push({ index, file: p.file, why: `${st.size} bytes, parts.json says ${p.size}` });
  }
  const concat = new Concat(manifest.parts.map((p, i) => ({ file: files[i]!, size: p.size })));
  const starts = new Map<string, number>();
  manifest.parts.reduce((at, p, i) => (starts.set(files[i]!, at), at + p.size), 0);
  const extra: SplitParts['extra'] = [];
  const parts: SplitParts = {
    manifest,
    files,
    broken,
    extra,
    partsOf: (job) => {
      const first = job.segments[0];
      const at = first && starts.get(first.file);
      return at === undefined ? [] : concat.filesOf(at + first!.offset, job.length); // a loose file is in no part
    },
  };
  if (broken.length === 0) {
    const tar = listTar(concat, `${root}/${manifest.parts[0]?.file ?? 'parts'}`, false);
    extra.push(...bytesAfterEnd(concat, tar.end, manifest));
    for (const [p, e] of tar.entries) {
      if (entries.has(p)) {
        throw new UsageError({
          code: 'NOT_A_BUNDLE',
          message: `${root}: ${p} is both in the folder and in the parts`,
          subject: `${root}/${p}`,
          hint: 'the split bundle was changed after build; copy it again',
        });
      }
      entries.set(p, e);
    }
  }
  return makeReader(root, 'split', entries, parts);
}

/** A tar record (what GNU tar pads an archive to); our parts end right after the two zero blocks. */
const RECORD = 10240;

/**
 * The parts of a split tar that hold anything after its end: the end-of-archive marker (two zero blocks) and
 * zero padding up to a record are allowed, other bytes are not part of the bundle. Reads at most one record
 * (the tail), never the data again.
 */
function bytesAfterEnd(src: Concat, end: number, m: PartsManifest): SplitParts['extra'] {
  const archiveEnd = end + 1024;
  const recordEnd = Math.ceil(archiveEnd / RECORD) * RECORD;
  const out: SplitParts['extra'] = [];
  const tail = Buffer.alloc(Math.max(0, Math.min(src.size, recordEnd) - end));
  if (tail.length > 0) src.read(tail, tail.length, end);
  const firstNonZero = tail.findIndex((b) => b !== 0);
  // Where the bytes that are not the bundle's begin, if any do.
  const from = firstNonZero >= 0 ? end + firstNonZero : src.size > recordEnd ? recordEnd : -1;
  if (from < 0) return out;
  let at = 0;
  for (const [index, p] of m.parts.entries()) {
    const start = at;
    at += p.size;
    if (at <= from) continue;
    const n = at - Math.max(start, from);
    out.push({
      index,
      file: p.file,
      why: start >= archiveEnd ? 'lies wholly after the end of the blob archive' : `holds ${n} byte(s) after the end of the blob archive`,
    });
  }
  return out;
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

function parseNumber(b: Buffer): number {
  if (b[0]! & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === parseNumber(h.subarray(148, 156));
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
