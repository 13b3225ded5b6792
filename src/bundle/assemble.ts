import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { constants, copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Digest, hexOf } from '../store/digest.js';
import type { Store } from '../store/store.js';
import { copyBlobOut } from '../store/copy.js';
import { clockMark, statBlob } from '../store/proof.js';
import { OldBundle, type PlacedFile } from '../store/placed.js';
import type { TeeFolder } from '../store/tee.js';
import { FileHashers } from './hash-workers.js';
import { phaseDone } from '../util/gc.js';
import { InterruptedError, LocalError, errnoCode, localWriteError } from '../util/errors.js';
import { exists, makeDirs, oldSibling, tempDone, tempSibling, writeFileAtomic } from '../util/fs.js';
import { sbomJson } from '../sbom/cyclonedx.js';
import type { RuntimeFile } from '../runtime/carry.js';
import { type BundleIndex, serializeIndex } from './index.js';
import { BLOBS_DIR, INDEX, SBOM, SUMS, blobPath } from './layout.js';
import { type SumEntry, formatSums } from './sums.js';

export interface AssembleResult {
  dir: string;
  files: number;
  bytes: number;
  /** Blobs copied out of the cache, and how many of them were proven by their recorded proof (not hashed). */
  copied: number;
  unchanged: number;
  /** Blobs linked from the old bundle at `reuseFrom` (store/placed.ts), not copied. */
  reused: number;
  /** Blobs written into the bundle as they were downloaded (store/tee.ts), not copied. */
  written: number;
  /** Every blob placed, with its stat once placed: for recordPlaced once the bundle is in place. */
  placed: PlacedFile[];
}

/**
 * Writes the bundle folder from the index and the store. Everything is first laid out in a temp sibling
 * of `out`, then renamed into place, so `out` is never half-written: it is either the old bundle or the new.
 * Blobs are copies of the store's (reflinks where the file system has them), each proven as it is placed (its
 * cache file unchanged since it last hashed to its name, else the copy hashed): a bundle never shares an inode
 * with the cache, and never holds a blob that was not proven (copyBlobOut, store/proof.ts).
 */
export async function assembleBundle(
  index: BundleIndex,
  store: Store,
  out: string,
  extra: {
    views?: Record<string, string>;
    runtime?: RuntimeFile[];
    scripts?: Record<string, string>;
    /** Blobs left out (a delta: they are in its base). */
    skipBlobs?: ReadonlySet<string>;
    /** Ctrl-C: stop between files; the temp folder is removed. */
    signal?: AbortSignal;
    /**
     * bundle.json's index when it is still in the making (a build's last licence reads): the blobs (the same
     * digests) are copied meanwhile, and its texts written when it comes.
     */
    final?: Promise<BundleIndex>;
    /** The bundle folder this one replaces: its blobs proven unchanged since placed are linked, not copied (store/placed.ts). */
    reuseFrom?: string;
    /** The copies the downloads wrote beside the bundle (store/tee.ts): moved in, not copied. */
    tee?: TeeFolder;
  } = {},
): Promise<AssembleResult> {
  const views = extra.views ?? {};
  await checkOutput(out);
  const stage = tempSibling(out);
  let placer: Awaited<ReturnType<typeof blobPlacer>> | undefined;
  try {
    await makeDirs(join(stage, BLOBS_DIR));
    const sums: SumEntry[] = [];
    let bytes = 0;
    const seen = new Set<string>();
    const blobs = index.artifacts.filter((a) => !seen.has(a.digest) && !extra.skipBlobs?.has(a.digest) && seen.add(a.digest));
    placer = await blobPlacer(store, extra.signal ?? new AbortController().signal, extra.reuseFrom, extra.tee);
    const { place, counts, placed } = placer;
    // Several at a time: the copies and the hashing of those without a proof run side by side on every core.
    const limit = pLimit(Math.max(2, Math.min(8, availableParallelism())));
    await Promise.all(
      blobs.map((a) =>
        limit(async () => {
          if (extra.signal?.aborted) throw new InterruptedError();
          await place(a.digest, a.size, stage, blobPath(hexOf(a.digest)));
        }),
      ),
    ).catch(async (err: unknown) => {
      limit.clearQueue();
      while (limit.activeCount > 0) await new Promise((r) => setTimeout(r, 10)); // none still writing into the stage
      throw err;
    });
    for (const rf of index.runtime ?? []) {
      await mkdir(dirname(join(stage, rf.path)), { recursive: true });
      await place(rf.digest, rf.size, stage, rf.path);
    }
    // The hashing workers go as soon as the last copy is done (~8 MB each: issue #14's peak RSS), before bundle.json
    // and the SBOM are made (~15 MB of heap for a 560-package bundle): the two are not stacked (build peak).
    await placer.close();
    const done = await (extra.final ?? index);
    phaseDone(); // the fetch's and the licence reads' garbage goes first: the texts reuse its heap pages
    const texts = [[INDEX, serializeIndex(done)], [SBOM, sbomJson(done)], ...Object.entries(views)] as const;
    phaseDone();
    for (const a of blobs) {
      sums.push({ path: blobPath(hexOf(a.digest)), hex: hexOf(a.digest) });
      bytes += a.size;
    }
    bytes += await writeTexts(stage, texts, index.runtime ?? [], extra.scripts ?? {}, sums);
    // Written last: it is the root that lists every other file.
    await writeFileAtomic(join(stage, SUMS), formatSums(sums));
    if (extra.signal?.aborted) throw new InterruptedError();
    await swapInto(stage, out);
    tempDone(stage);
    return { dir: out, files: sums.length + 1, bytes, ...counts, placed };
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    tempDone(stage);
    throw localWriteError(err, out);
  } finally {
    await placer?.close();
  }
}

/**
 * bundle.json, the SBOM and the views, the carried runtime's entries (its files were copied with the blobs) and
 * its sh entry points: written into the stage and listed in `sums`. Returns their bytes.
 */
async function writeTexts(
  stage: string,
  texts: readonly (readonly [string, string])[],
  runtime: readonly RuntimeFile[],
  scripts: Record<string, string>,
  sums: SumEntry[],
): Promise<number> {
  let bytes = 0;
  for (const [name, text] of texts) {
    await mkdir(dirname(join(stage, name)), { recursive: true });
    await writeFileAtomic(join(stage, name), text);
    sums.push({ path: name, hex: createHash('sha256').update(text).digest('hex') });
    bytes += Buffer.byteLength(text);
  }
  for (const rf of runtime) {
    sums.push({ path: rf.path, hex: hexOf(rf.digest) });
    bytes += rf.size;
  }
  for (const [name, text] of Object.entries(scripts)) {
    await writeFileAtomic(join(stage, name), text, name.endsWith('.txt') ? 0o644 : 0o755);
    sums.push({ path: name, hex: createHash('sha256').update(text).digest('hex') });
    bytes += Buffer.byteLength(text);
  }
  return bytes;
}

/**
 * Places blobs in the stage: moved in from the downloads' copies (tee), linked from the old bundle where
 * store/placed.ts proves them unchanged, else copied out of the cache, proven (copyBlobOut); counts each way and
 * keeps each placed file's stat for recordPlaced.
 */
async function blobPlacer(store: Store, signal: AbortSignal, reuseFrom: string | undefined, tee: TeeFolder | undefined) {
  // The cache's clock before the first copy: a blob that changed last before it can be given a proof.
  const mark = await clockMark(store.root);
  const old = reuseFrom === undefined ? undefined : await OldBundle.open(store.root, reuseFrom);
  const counts = { copied: 0, unchanged: 0, reused: 0, written: 0 };
  const placed: PlacedFile[] = [];
  // A big copy that must be hashed is hashed on a worker thread, never on the main thread; the workers are
  // shared by the copies (one per core at most, up to the 8 copies at once), started only when needed.
  const hashers = new FileHashers(Math.max(1, Math.min(8, availableParallelism())));
  const hashCopy = async (path: string) => hashers.hash(path, (await stat(path)).size, signal);
  const place = async (d: Digest, size: number, stage: string, rel: string) => {
    const to = join(stage, rel);
    if (await tee?.take(d, to, size)) counts.written++;
    else if (await old?.take(rel, d, to)) counts.reused++;
    else {
      counts.copied++;
      if ((await copyBlobOut(store, d, to, mark, hashCopy)) === 'unchanged') counts.unchanged++;
    }
    placed.push({ rel, digest: d, st: await statBlob(to) });
  };
  return { place, counts, placed, close: () => hashers.close() };
}

/** Links a file of one staged bundle into another (both ours, both fresh), else copies it. Never for the store's blobs. */
export async function placeBlob(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    await copyFile(from, to, constants.COPYFILE_FICLONE);
  }
}

/**
 * Refuses to replace anything but a bundle folder or an empty folder: that would lose someone's data. What
 * is there is named (a file, a device, a folder with other things in it), with what to do.
 */
export async function checkOutput(out: string): Promise<void> {
  let st;
  try {
    st = await stat(out);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw localWriteError(err, out);
  }
  if (st.isDirectory()) {
    if ((await exists(join(out, INDEX))) || (await exists(join(out, SUMS)))) return;
    if ((await readdir(out)).length === 0) return;
    throw new LocalError({
      code: 'OUTPUT_EXISTS',
      message: `${out} exists and is not a vault-bundle bundle; refusing to replace it`,
      subject: out,
      hint: 'choose another --out, or move that folder away',
    });
  }
  const what = st.isFile() ? 'a file' : st.isFIFO() ? 'a named pipe' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a folder';
  throw new LocalError({
    code: 'OUTPUT_EXISTS',
    message: `${out} is ${what}, not a bundle folder; refusing to replace it`,
    subject: out,
    hint: st.isFile()
      ? '--out names the bundle folder: choose another path (for the bundle as one file, add --tar FILE), or move that file away'
      : '--out names the bundle folder: choose another path',
  });
}

/** Replaces `out` by `stage` with renames only: a crash leaves either the old or the new bundle. */
export async function swapInto(stage: string, out: string): Promise<void> {
  if (!(await exists(out))) {
    await makeDirs(dirname(out));
    await rename(stage, out);
    return;
  }
  const old = oldSibling(out);
  await rename(out, old);
  try {
    await rename(stage, out);
  } catch (err) {
    await rename(old, out);
    throw err;
  }
  // A crash before this line leaves `old` beside `out`: build removes such leftovers on its next run.
  await rm(old, { recursive: true, force: true });
}
