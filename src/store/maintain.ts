import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError } from '../util/errors.js';
import { type Digest, digestOf, isSha256Hex } from './digest.js';
import { type Store, hashFile } from './store.js';
import { clockMark, proofOf, recordProof, sameProof, statBlob } from './proof.js';
import { dropStaleRecords } from './placed.js';

/** A cache entry that did not hash to its name, or was no blob at all: moved aside. */
export interface BadEntry {
  /** Its name in blobs/sha256/. */
  name: string;
  /** Why it is bad: the digest it hashes to, or what it is instead of a file. */
  found: string;
  /** Where it was moved (quarantine/…); undefined when it had to be removed. */
  movedTo?: string;
}

export interface CacheVerifyReport {
  root: string;
  /** Blobs re-hashed (good and bad). */
  checked: number;
  bytes: number;
  bad: BadEntry[];
}

/**
 * `cache verify`: re-hashes every blob of the store (blobs/sha256/<hex>) and moves each that does not hash to
 * its name aside (quarantine/), so the next build fetches it anew. A name that is not a sha256, a folder or a
 * link there is moved aside too: nothing but blobs belongs in blobs/. Partial downloads are left alone (they
 * are checked when they complete). A blob that hashes right, and stood still while it was read, gets its proof
 * recorded (store/proof.ts): the next build copies it out without hashing it again.
 */
export async function verifyStore(store: Store, o: { signal?: AbortSignal; onBlob?: (name: string, size: number) => void } = {}): Promise<CacheVerifyReport> {
  const dir = join(store.root, 'blobs', 'sha256');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const report: CacheVerifyReport = { root: store.root, checked: 0, bytes: 0, bad: [] };
  const mark = await clockMark(store.root);
  for (const name of names) {
    if (o.signal?.aborted) throw new InterruptedError();
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue; // removed meanwhile (a gc, a concurrent build's quarantine)
    const d = isSha256Hex(name) ? digestOf(name) : undefined;
    let found: string;
    if (!st.isFile()) found = st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
    else if (!d) found = 'a file whose name is not a sha256';
    else {
      const before = await statBlob(path).catch(() => undefined);
      const h = await hashFile(path);
      report.checked++;
      report.bytes += h.size;
      o.onBlob?.(name, h.size);
      if (h.digest === d) {
        const after = await statBlob(path).catch(() => undefined);
        if (before && after && sameProof(proofOf(before), proofOf(after))) await recordProof(store.root, d, before, mark);
        continue;
      }
      found = h.digest;
    }
    const movedTo = await store.quarantine(d ?? 'sha256:', path);
    report.bad.push({ name, found, ...(movedTo ? { movedTo } : {}) });
  }
  return report;
}

export interface CacheGcReport {
  root: string;
  dryRun: boolean;
  kept: number;
  keptBytes: number;
  /** Blobs (and partial downloads, quarantined entries) removed, or that would be with --dry-run. */
  removed: { name: string; size: number; what: 'blob' | 'partial' | 'quarantined' }[];
  removedBytes: number;
}

/**
 * `cache gc`: removes every blob that no digest in `keep` names, the partial downloads of such blobs, and
 * everything moved aside by verify; with `dryRun` only lists them. A blob is removed by unlinking its one
 * name: a build copying it at that moment keeps reading the open file, and a put of it starts anew.
 */
export async function gcStore(store: Store, keep: ReadonlySet<Digest>, o: { dryRun?: boolean } = {}): Promise<CacheGcReport> {
  const report: CacheGcReport = { root: store.root, dryRun: Boolean(o.dryRun), kept: 0, keptBytes: 0, removed: [], removedBytes: 0 };
  const keepHex = new Set([...keep].map((d) => d.slice('sha256:'.length)));
  const sweep = async (dir: string, what: CacheGcReport['removed'][number]['what'], hexOfName: (n: string) => string | undefined) => {
    for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      const hex = hexOfName(name);
      if (hex !== undefined && keepHex.has(hex)) {
        if (what === 'blob') {
          report.kept++;
          report.keptBytes += st.size;
        }
        continue;
      }
      if (!o.dryRun) await rm(path, { recursive: true, force: true });
      report.removed.push({ name: `${what === 'blob' ? 'blobs/sha256' : what === 'partial' ? 'partial' : 'quarantine'}/${name}`, size: st.size, what });
      report.removedBytes += st.size;
    }
  };
  await sweep(join(store.root, 'blobs', 'sha256'), 'blob', (n) => n);
  // The proofs of blobs that are gone, and what a killed run left there (not listed: bookkeeping, see proof.ts).
  if (!o.dryRun) {
    const left = new Set(await readdir(join(store.root, 'blobs', 'sha256')).catch(() => [] as string[]));
    for (const name of await readdir(join(store.root, 'proofs')).catch(() => [] as string[])) {
      if (!isSha256Hex(name) || !left.has(name)) await rm(join(store.root, 'proofs', name), { force: true });
    }
    // The lock's parsed indexes (sources/apt/universe-cache.ts: universe/<index hex>.<format>) go with their index.
    for (const name of await readdir(join(store.root, 'universe')).catch(() => [] as string[])) {
      if (!left.has(name.slice(0, 64))) await rm(join(store.root, 'universe', name), { force: true });
    }
  }
  if (!o.dryRun) await dropStaleRecords(store.root); // placed.ts's records of bundle folders no longer there
  // Partial files, ranged journals, the writer locks of partial-lock.ts and the private partial files of builds that met one.
  await sweep(join(store.root, 'partial'), 'partial', (n) => /^([0-9a-f]{64})\.(?:part|ranges|lock|vbtmp-\d+-\d+-\d+-\.part)$/.exec(n)?.[1]);
  await sweep(store.quarantineDir, 'quarantined', () => undefined);
  return report;
}
