import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type BundleIndex, bundleIndexSchema } from './index.js';
import { INDEX, SBOM, SUMS, SUMS_SIG } from './layout.js';
import { type BundleReader, openBundle } from './reader.js';
import { parseSums } from './sums.js';
import { IntegrityError, UsageError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** SHA256SUMS as read once: the bytes a signature is checked over and the list the small files are checked against. */
export interface LoadedSums {
  bytes: Buffer;
  list: Map<string, string>;
}

/** A bundle opened in any form, with its parsed bundle.json: what inspect, install and the reviewer's views start from. */
export interface LoadedBundle {
  location: string;
  reader: BundleReader;
  index: BundleIndex;
  /** sha256 (hex) of bundle.json as it is in the bundle: names this exact bundle (SPDX namespace, diff). */
  indexSha256: string;
  /** Whether SHA256SUMS.asc is in the bundle. */
  signed: boolean;
  /** The SHA256SUMS that bundle.json (and the SBOM, when present) were checked against. */
  sums: LoadedSums;
  /** The small files that were checked against SHA256SUMS while loading (bundle.json, sbom.cdx.json). */
  checked: string[];
}

const sha256hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Opens a bundle in any of its forms (folder, tar, split folder) and reads bundle.json through the reader,
 * never by path. A path that is not a bundle, or an index this version does not understand, is NOT_A_BUNDLE.
 *
 * bundle.json (and, with `sbom`, sbom.cdx.json) is checked against the bundle's SHA256SUMS before anything is
 * shown: the reviewer's views (inspect, sbom, diff, audit, report) trust what they print, and a hand-edited
 * bundle.json (an artifact deleted, a version changed) must not read as the bundle that was built and signed. Both files
 * are small; the blobs are verify's to hash.
 */
export async function loadBundle(location: string, o: { sbom?: boolean } = {}): Promise<LoadedBundle> {
  const reader = await openBundle(location);
  if (!reader.entries.has(INDEX)) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no ${INDEX}; not a vault-bundle bundle`,
      subject: location,
      hint: 'give the folder, tar or split folder written by "vault-bundle build"',
    });
  }
  if (reader.entries.get(SUMS)?.kind !== 'file') {
    throw new IntegrityError({
      code: 'MISSING_FILE',
      message: `${reader.location}: ${SUMS} is missing, so ${INDEX} cannot be checked; every bundle "vault-bundle build" writes has one`,
      subject: `${reader.location}/${SUMS}`,
      hint: `run "vault-bundle verify ${reader.location}"; copy the bundle again from the build host`,
    });
  }
  // One read of SHA256SUMS: report --key checks the signature over these very bytes.
  const sums = await readSums(reader);
  const indexBytes = await reader.read(INDEX, limits.maxIndexBytes);
  checkAgainstSums(sums, INDEX, indexBytes, reader.location);
  const checked = [INDEX];
  // Up to 64 MiB: only for a caller that vouches for the SBOM (report); sbom reads and checks its own bytes.
  if (o.sbom && reader.entries.get(SBOM)?.kind === 'file') {
    checkAgainstSums(sums, SBOM, await reader.read(SBOM, limits.maxIndexBytes), reader.location);
    checked.push(SBOM);
  }
  const { index, sha256 } = parseIndex(indexBytes, location);
  return {
    location: reader.location,
    reader,
    index,
    indexSha256: sha256,
    signed: reader.entries.has(SUMS_SIG),
    sums,
    checked,
  };
}

/** SHA256SUMS's bytes with the list they say (coreutils format, parsed strictly: a bad line is BAD_SUMS). */
export function sumsOf(bytes: Buffer): LoadedSums {
  return { bytes, list: parseSums(bytes.toString('utf8')) };
}

/**
 * Reads a bundle's SHA256SUMS once, for verify and for every view that trusts bundle.json: the bytes a
 * signature is checked over are the bytes whose list is trusted. The caller has checked that it is there
 * (each names its absence in its own words).
 */
export async function readSums(reader: BundleReader): Promise<LoadedSums> {
  return sumsOf(await reader.read(SUMS, limits.maxIndexBytes));
}

/** Refuses a small file of the bundle whose bytes are not what SHA256SUMS lists for it. */
export function checkAgainstSums(sums: LoadedSums, path: string, bytes: Uint8Array, location: string): void {
  const want = sums.list.get(path);
  const got = sha256hex(bytes);
  if (want === got) return;
  throw new IntegrityError({
    code: want === undefined ? 'UNLISTED_FILE' : 'DIGEST_MISMATCH',
    message:
      want === undefined
        ? `${location}: ${path} is not listed in ${SUMS}: the bundle was changed after it was built`
        : `${location}: ${path} does not match ${SUMS} (sha256 ${got}, listed ${want}): the bundle was changed after it was built`,
    subject: `${location}/${path}`,
    ...(want ? { expected: want } : {}),
    found: got,
    hint: `do not trust what this copy says; run "vault-bundle verify ${location}" and get the bundle again from the build host`,
  });
}

/** bundle.json's bytes as an index, and their sha256 (hex); `where` names it in the error. */
export function parseIndex(bytes: Buffer, where: string): { index: BundleIndex; sha256: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    raw = undefined;
  }
  const parsed = bundleIndexSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${where}: ${INDEX} is not a bundle index this version understands`,
      subject: `${where}/${INDEX}`,
      hint: 'run "vault-bundle verify" on it; it may be damaged or written by a newer version',
    });
  }
  return { index: parsed.data as BundleIndex, sha256: sha256hex(bytes) };
}

export interface LoadedIndex {
  location: string;
  index: BundleIndex;
  sha256: string;
  /**
   * Set when the index could not be checked against a SHA256SUMS (a bundle.json file with none beside it):
   * why, for a warning line. Nothing vouches for what it says.
   */
  unverified?: string;
}

/**
 * The index of a bundle in any form, or of a bundle.json file alone (the release engineer may keep only that
 * of an old bundle: enough for build --base, diff and audit). A bundle.json with a SHA256SUMS beside it (the
 * file inside a bundle folder) is checked against it like a bundle; one alone is read, marked unverified.
 */
export async function loadIndex(location: string): Promise<LoadedIndex> {
  if (
    location.endsWith('.json') &&
    (await stat(location).then(
      (st) => st.isFile(),
      () => false,
    ))
  ) {
    const st = await stat(location);
    if (st.size > limits.maxIndexBytes) parseIndex(Buffer.alloc(0), location);
    const bytes = await readFile(location);
    const sumsFile = join(dirname(location), SUMS);
    const sumsBytes = basename(location) === INDEX ? await readFile(sumsFile).catch(() => undefined) : undefined;
    if (sumsBytes) checkAgainstSums(sumsOf(sumsBytes), INDEX, bytes, dirname(location));
    return {
      location,
      ...parseIndex(bytes, location),
      ...(sumsBytes ? {} : { unverified: `${location}: a ${INDEX} alone (no ${SUMS} beside it): unverified, nothing shows it is the bundle that was built` }),
    };
  }
  const b = await loadBundle(location);
  return { location: b.location, index: b.index, sha256: b.indexSha256 };
}
