import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { type BundleIndex, bundleIndexSchema } from './index.js';
import { INDEX, SUMS_SIG } from './layout.js';
import { type BundleReader, openBundle } from './reader.js';
import { UsageError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** A bundle opened in any form, with its parsed bundle.json: what inspect, install and the reviewer's views start from. */
export interface LoadedBundle {
  location: string;
  reader: BundleReader;
  index: BundleIndex;
  /** sha256 (hex) of bundle.json as it is in the bundle: names this exact bundle (SPDX namespace, diff). */
  indexSha256: string;
  /** Whether SHA256SUMS.asc is in the bundle. */
  signed: boolean;
}

/**
 * Opens a bundle in any of its forms (folder, tar, split folder) and reads bundle.json through the reader,
 * never by path. A path that is not a bundle, or an index this version does not understand, is NOT_A_BUNDLE.
 */
export async function loadBundle(location: string): Promise<LoadedBundle> {
  const reader = await openBundle(location);
  if (!reader.entries.has(INDEX)) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no ${INDEX}; not a vault-bundle bundle`,
      subject: location,
      hint: 'give the folder, tar or split folder written by "vault-bundle build"',
    });
  }
  const { index, sha256 } = parseIndex(await reader.read(INDEX, limits.maxIndexBytes), location);
  return {
    location: reader.location,
    reader,
    index,
    indexSha256: sha256,
    signed: reader.entries.has(SUMS_SIG),
  };
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
  return { index: parsed.data as BundleIndex, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The index of a bundle in any form, or of a bundle.json file alone (the release engineer may keep only that
 * of an old bundle: enough for build --base and audit).
 */
export async function loadIndex(location: string): Promise<{ location: string; index: BundleIndex; sha256: string }> {
  if (location.endsWith('.json') && (await stat(location).then((st) => st.isFile(), () => false))) {
    const st = await stat(location);
    if (st.size > limits.maxIndexBytes) parseIndex(Buffer.alloc(0), location);
    return { location, ...parseIndex(await readFile(location), location) };
  }
  const b = await loadBundle(location);
  return { location: b.location, index: b.index, sha256: b.indexSha256 };
}
