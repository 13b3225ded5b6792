import { createHash } from 'node:crypto';
import { type BundleIndex, bundleIndexSchema } from '../bundle/index.js';
import { INDEX, SBOM, SUMS_SIG } from '../bundle/layout.js';
import { type BundleReader, openBundle } from '../bundle/reader.js';
import { IntegrityError, UsageError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** A bundle opened for the reviewer's views (sbom, diff, report): its reader and its parsed bundle.json. */
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
  const bytes = await reader.read(INDEX, limits.maxIndexBytes);
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
      message: `${location}: ${INDEX} is not a bundle index this version understands`,
      subject: `${location}/${INDEX}`,
      hint: 'run "vault-bundle verify" on it; it may be damaged or written by a newer version',
    });
  }
  return {
    location: reader.location,
    reader,
    index: parsed.data as BundleIndex,
    indexSha256: createHash('sha256').update(bytes).digest('hex'),
    signed: reader.entries.has(SUMS_SIG),
  };
}

/** The CycloneDX SBOM exactly as the bundle ships it. */
export async function readShippedSbom(b: LoadedBundle): Promise<Buffer> {
  if (!b.reader.entries.has(SBOM)) {
    throw new IntegrityError({
      code: 'MISSING_FILE',
      message: `${b.location}: ${SBOM} is missing`,
      subject: `${b.location}/${SBOM}`,
      hint: 'run "vault-bundle verify" on it; copy the bundle again from the build host',
    });
  }
  return b.reader.read(SBOM, limits.maxIndexBytes);
}
