import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { extractJob } from '../bundle/extract.js';
import type { BundleIndex } from '../bundle/index.js';
import { BLOBS_DIR, INDEX, SUMS, SUMS_SIG, blobPath } from '../bundle/layout.js';
import type { BundleReader } from '../bundle/reader.js';
import { hexOf } from '../store/digest.js';
import { makeTempDir, removeTempDir } from '../util/fs.js';
import type { HistoryRecord } from './record.js';

/** Where `install --keep-blobs` keeps installed bundles: <state>/kept/<sha256 of bundle.json>/. */
export function keptDir(stateDir: string): string {
  return join(stateDir, 'kept');
}

/**
 * Keeps what a rollback to this bundle needs in the state folder, as a bundle folder of its own (bundle.json,
 * SHA256SUMS and its signature, apt's and pip's small files, and the blob of every artifact; not the carried
 * runtime): found by its bundle.json digest, checked against its SHA256SUMS like any other copy. Written
 * beside and renamed into place; an existing one is kept.
 */
export async function keepBlobs(stateDir: string, indexSha256: string, index: BundleIndex, readers: readonly BundleReader[]): Promise<string> {
  const dest = join(keptDir(stateDir), indexSha256);
  const have = await readdir(dest).catch(() => undefined);
  if (have) return dest;
  const tmp = await makeTempDir('kept', keptDir(stateDir));
  try {
    const [reader] = readers;
    for (const e of reader!.entries.values()) {
      const small = e.kind === 'file' && !e.path.startsWith(`${BLOBS_DIR}/`) && !e.path.startsWith('runtime/');
      if (small && (e.path === INDEX || e.path === SUMS || e.path === SUMS_SIG || /^(apt|pip)\//.test(e.path))) await extractJob(e.job, join(tmp, e.path));
    }
    for (const a of index.artifacts) {
      const p = blobPath(hexOf(a.digest));
      const entry = readers.map((r) => r.entries.get(p)).find(Boolean);
      if (entry) await extractJob(entry.job, join(tmp, p)).catch(ignoreExisting);
    }
    await rename(tmp, dest);
  } catch (err) {
    await removeTempDir(tmp).catch(() => undefined);
    throw err;
  }
  return dest;
}

/** Removes kept bundles that no history record leads back to (neither the bundle a record installed nor the one it replaced). */
export async function pruneKept(stateDir: string, records: readonly HistoryRecord[]): Promise<string[]> {
  const wanted = new Set<string>();
  for (const r of records) {
    wanted.add(r.bundle.digest.replace(/^sha256:/, ''));
    const prev = r.stamp ? stampDigest(r.stamp) : undefined;
    if (prev) wanted.add(prev.replace(/^sha256:/, ''));
  }
  const gone: string[] = [];
  for (const n of await readdir(keptDir(stateDir)).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(n) || wanted.has(n)) continue;
    await rm(join(keptDir(stateDir), n), { recursive: true, force: true });
    gone.push(n);
  }
  return gone;
}

/** The bundle_digest of a stamp's text, if it has one. */
export function stampDigest(stamp: string): string | undefined {
  try {
    const d = (JSON.parse(stamp) as { bundle_digest?: unknown }).bundle_digest;
    return typeof d === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}
