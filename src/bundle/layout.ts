/** Every name in a bundle, in one place (the Zarf layout/constants habit). */
export const SUMS = 'SHA256SUMS';
export const SUMS_SIG = 'SHA256SUMS.asc';
export const INDEX = 'bundle.json';
export const SBOM = 'sbom.cdx.json';
export const BLOBS_DIR = 'blobs/sha256';
export const INDEX_SCHEMA = 'vault-bundle/v1';

export function blobPath(hex: string): string {
  return `${BLOBS_DIR}/${hex}`;
}

/** Files a bundle may hold that SHA256SUMS does not list (itself and its signature). */
export const UNLISTED_ALLOWED: ReadonlySet<string> = new Set([SUMS, SUMS_SIG]);
