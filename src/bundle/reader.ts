import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError, UsageError } from '../util/errors.js';
import { fileStamp } from '../util/early-hash.js';
import { exists, walk } from '../util/fs.js';
import { type HashJob, wholeFile } from './hashpool.js';
import { type BundleEntry, Concat, listTar, readJob, refuseAfterEnd } from './tar-list.js';

export type { BundleEntry } from './tar-list.js';
import { INDEX, PARTS, PART_NAME, SUMS } from './layout.js';
import { type PartsManifest, readPartsManifest } from './parts.js';

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

function makeReader(location: string, form: BundleReader['form'], entries: Map<string, BundleEntry>, parts?: SplitParts): BundleReader {
  return {
    location,
    form,
    entries,
    ...(parts ? { parts } : {}),
    // eslint-disable-next-line @typescript-eslint/require-await -- a missing or oversized entry must reject, not throw: callers catch the promise
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
    const st = e.kind === 'file' ? await stat(file) : undefined;
    const size = st?.size ?? 0;
    const what = e.kind === 'other' ? await otherKind(file) : undefined;
    // The stamp: boot.cjs's early digest of this file stands in for verify's own only while it is the same (util/early-hash.ts).
    const job = { ...wholeFile(file, size), ...(st ? { stamp: fileStamp(st) } : {}) };
    entries.set(e.path, { path: e.path, kind: e.kind, ...(what ? { what } : {}), size, job });
  }
  return entries;
}

/** What a folder entry that is neither file, folder nor symlink is, for messages. */
async function otherKind(file: string): Promise<string> {
  const st = await lstat(file).catch(() => undefined);
  return st?.isFIFO()
    ? 'FIFO'
    : st?.isSocket()
      ? 'socket'
      : st?.isCharacterDevice()
        ? 'character device'
        : st?.isBlockDevice()
          ? 'block device'
          : 'special file';
}

async function openDir(root: string): Promise<BundleReader> {
  return makeReader(root, 'dir', await listDir(root));
}

/**
 * A tar file: its members listed from their headers (tar-list.ts), and nothing but zeros allowed after its
 * end-of-archive marker. A single top-level folder is taken as the bundle root.
 */
export async function openTar(file: string): Promise<BundleReader> {
  const size = (await stat(file)).size;
  const src = new Concat([{ file, size }]);
  const tar = listTar(src, file, true);
  refuseAfterEnd(src, file, tar.end, tar.last);
  return makeReader(file, 'tar', tar.entries);
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
