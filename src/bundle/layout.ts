import { BLOBS_DIR } from '../store/store.js';

/** Every name in a bundle, in one place (the Zarf layout/constants habit). */
export const SUMS = 'SHA256SUMS';
export const SUMS_SIG = 'SHA256SUMS.asc';
export const INDEX = 'bundle.json';
export const SBOM = 'sbom.cdx.json';
/** A bundle's blobs are named as in the store (OCI image layout). */
export { BLOBS_DIR };
export const INDEX_SCHEMA = 'vault-bundle/v1';
/** A split bundle's list of parts (order, size, sha256), beside them. */
export const PARTS = 'parts.json';
export const PARTS_SCHEMA = 'vault-bundle-parts/v1';
/** The n-th part (from 1) of a split bundle's blob tar. */
export function partName(n: number): string {
  return `blobs.tar.${String(n).padStart(4, '0')}`;
}

export function blobPath(hex: string): string {
  return `${BLOBS_DIR}/${hex}`;
}

/**
 * Files a bundle may hold that SHA256SUMS does not list: itself and its signature. (parts.json is listed: its
 * part sizes and hashes are covered by SHA256SUMS and so by the signature; the parts are listed in it.)
 */
export const UNLISTED_ALLOWED: ReadonlySet<string> = new Set([SUMS, SUMS_SIG]);
/** A part of a split bundle's blob tar, by name. */
export const PART_NAME = /^blobs\.tar\.\d{4}$/;

/**
 * What macOS, Windows and Linux desktops leave on a stick they mount: Finder's .DS_Store and AppleDouble ._*
 * files, Spotlight and trash folders, Windows' System Volume Information and recycle bin, thumbnail caches.
 * Unlisted, they are ignored with a warning (nothing reads them); listed in SHA256SUMS they are files like any.
 */
const OS_METADATA =
  /^(?:\.DS_Store|\._.*|\.Trashes|\.Trash-\d+|\.Spotlight-V100|\.fseventsd|\.TemporaryItems|\.VolumeIcon\.icns|System Volume Information|\$RECYCLE\.BIN|Thumbs\.db|desktop\.ini)$/;

export function isOsMetadata(path: string): boolean {
  // A path that climbs out (`../.DS_Store`) or is absolute is traversal, never clutter, whatever it ends in.
  if (path.startsWith('/') || path.split('/').includes('..')) return false;
  return path.split('/').some((segment) => OS_METADATA.test(segment));
}

/**
 * Paths that belong to a bundle's own layout: one of them unlisted means SHA256SUMS was edited or a copy was
 * mixed with another bundle's, not that someone left a file in the folder.
 */
export function isBundlePath(path: string): boolean {
  return [INDEX, SBOM, PARTS, 'verify', 'vault-bundle', 'README-FIELD.txt'].includes(path) || PART_NAME.test(path) || /^(?:blobs|runtime|apt|pip)\//.test(path);
}
