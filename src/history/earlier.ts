import { join } from 'node:path';
import { extractJob } from '../bundle/extract.js';
import type { BundleIndex } from '../bundle/index.js';
import { SUMS_SIG, blobPath } from '../bundle/layout.js';
import { type LoadedBundle, loadBundle } from '../bundle/load.js';
import { normalizeName } from '../sources/pip/pep440.js';
import type { Locked } from '../sources/source.js';
import { isInstalled, journalPath, readJournal } from '../state/journal.js';
import { loadTrustPolicy } from '../state/trust-policy.js';
import { hexOf } from '../store/digest.js';
import { hashFile } from '../store/store.js';
import { IntegrityError } from '../util/errors.js';
import { keptDir } from './kept.js';

/** An artifact a rollback needs from the earlier bundle: a .deb at the version the box had, or a wheel. */
export interface Need {
  kind: 'apt' | 'pip';
  name: string;
  version: string;
  arch?: string;
}

/** The earlier bundle as a rollback uses it: its artifacts for the needs, each extracted and checked. */
export interface Earlier {
  location: string;
  index: BundleIndex;
  /** Each need's artifact, in the order of the needs. */
  items: Locked[];
  /** Where each artifact's checked bytes are (extracted into the rollback's work folder). */
  paths: Map<string, string>;
}

/** Which bundle the box had before the install being undone: its name, version and bundle.json digest, when known. */
export interface Wanted {
  name?: string;
  version?: string;
  digest?: string;
}

/** The candidate that holds every need, as loaded (bundle.json checked against its SHA256SUMS). */
export interface Found {
  location: string;
  index: BundleIndex;
  items: Locked[];
  loaded: LoadedBundle;
}

const needName = (n: Need) => (n.kind === 'apt' ? `apt ${n.name}=${n.version}${n.arch ? ` (${n.arch})` : ''}` : `pip ${n.name}==${n.version}`);

function artifactFor(index: BundleIndex, n: Need): Locked | undefined {
  return index.artifacts.find((a) =>
    n.kind === 'apt'
      ? a.kind === 'apt' && a.name === n.name && a.version === n.version && (!n.arch || [n.arch, 'all'].includes(a.id.split(':').at(-1) ?? ''))
      : a.kind === 'pip' && normalizeName(a.name) === normalizeName(n.name) && a.version === n.version,
  );
}

/**
 * Where the earlier bundle may be, in order: `--bundle`, where the journal says the box installed it from,
 * and the blobs install kept (`install --keep-blobs`) in the state folder.
 */
export async function candidates(stateDir: string, wanted: Wanted, given?: string): Promise<string[]> {
  const out: string[] = [];
  if (given) out.push(given);
  if (wanted.name && wanted.version) {
    const entries = (await readJournal(journalPath(stateDir))).filter(
      (e) => isInstalled(e) && e.bundle.name === wanted.name && e.bundle.version === wanted.version,
    );
    for (const e of entries.reverse()) if (!e.bundle.path.startsWith('rollback of')) out.push(e.bundle.path);
  }
  if (wanted.digest) out.push(join(keptDir(stateDir), wanted.digest.replace(/^sha256:/, '')));
  return [...new Set(out)];
}

/**
 * Finds the first candidate that is the wanted bundle (its bundle.json digest, when known) and holds every
 * need; returns it unchecked, or what each candidate lacked (for ROLLBACK_MISSING).
 */
export async function locate(cands: readonly string[], wanted: Wanted, needs: readonly Need[]): Promise<{ found?: Found; missing: string[] }> {
  const why: string[] = [];
  for (const c of cands) {
    const b = await loadBundle(c).catch((e: unknown) => e as Error);
    if (b instanceof Error) {
      why.push(`${c}: ${b.message.split('\n')[0]}`);
      continue;
    }
    if (wanted.digest && `sha256:${b.indexSha256}` !== wanted.digest) {
      why.push(`${c}: is ${b.index.name} ${b.index.version} with bundle.json sha256:${b.indexSha256}, not the ${wanted.digest} this box had`);
      continue;
    }
    const items: Locked[] = [];
    const lacking: string[] = [];
    for (const n of needs) {
      const a = artifactFor(b.index, n);
      if (a && b.reader.entries.has(blobPath(hexOf(a.digest)))) items.push(a);
      else lacking.push(`${needName(n)} (${a ? `${blobPath(hexOf(a.digest))} is not there` : 'not in its bundle.json'})`);
    }
    if (lacking.length === 0) return { found: { location: b.location, index: b.index, items, loaded: b }, missing: [] };
    why.push(`${c}: lacks ${lacking.join(', ')}`);
  }
  const where = cands.length > 0 ? `looked in: ${why.join('; ')}` : 'no earlier bundle is known (give it with --bundle)';
  return { missing: needs.map((n) => `${needName(n)}: from ${wanted.name ?? 'the earlier bundle'} ${wanted.version ?? ''}`.trimEnd() + `; ${where}`) };
}

/**
 * Checks the earlier bundle before anything is changed, as install does: SHA256SUMS's signature with --key or
 * the box trust policy's keys (required with --key or `require-signature`), then each needed artifact
 * extracted into `workDir` and hashed against its SHA256SUMS line and bundle.json's digest.
 */
export async function checkEarlier(found: Found, o: { key?: string; workDir: string; now?: Date }): Promise<Earlier> {
  const b = found.loaded;
  const policy = o.key ? undefined : await loadTrustPolicy();
  const keyFiles = o.key ? [o.key] : (policy?.keyFiles ?? []);
  if (keyFiles.length > 0) {
    const required = Boolean(o.key) || Boolean(policy?.requireSignature);
    const fail = (code: 'UNSIGNED' | 'SIGNATURE_INVALID', message: string) =>
      new IntegrityError({
        code,
        message,
        subject: found.location,
        hint: 'nothing was changed. Give the earlier bundle as it was released (signed), or the right key with --key',
      });
    if (!b.reader.entries.has(SUMS_SIG)) {
      if (required)
        throw fail('UNSIGNED', `${found.location}: no ${SUMS_SIG}, and ${o.key ? '--key' : `the trust policy in ${policy!.root}`} requires a signature`);
    } else {
      const { checkDetached, readVerifyKeys } = await import('../bundle/signature.js');
      const keys = (await Promise.all(keyFiles.map((f) => readVerifyKeys(f)))).flat();
      const sig = await checkDetached(b.sums.bytes, await b.reader.read(SUMS_SIG, 1 << 20), keys, o.now ?? new Date());
      if (sig.status !== 'valid')
        throw fail('SIGNATURE_INVALID', `${found.location}: ${SUMS_SIG} is not a valid signature of its SHA256SUMS by ${keyFiles.join(', ')}`);
    }
  }
  const paths = new Map<string, string>();
  for (const a of found.items) {
    const hex = hexOf(a.digest);
    const path = blobPath(hex);
    const dest = join(o.workDir, 'earlier', hex);
    if (b.sums.list.get(path) !== hex) throw mismatch(found.location, path, `is not listed in its SHA256SUMS as ${hex}`);
    await extractJob(b.reader.entries.get(path)!.job, dest).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const got = (await hashFile(dest)).digest;
    if (got !== a.digest) throw mismatch(found.location, path, `hashes to ${got}`);
    paths.set(a.digest, dest);
  }
  return { location: found.location, index: b.index, items: found.items, paths };
}

function mismatch(location: string, path: string, what: string): IntegrityError {
  return new IntegrityError({
    code: 'DIGEST_MISMATCH',
    message: `${location}: ${path} ${what}: the earlier bundle was changed after it was built`,
    subject: `${location}/${path}`,
    hint: 'nothing was changed. Copy the earlier bundle again from the build host and give it with --bundle',
  });
}
