import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PARTS, SBOM, SUMS, SUMS_SIG } from '../bundle/layout.js';
import { parseSums } from '../bundle/sums.js';
import { UsageError } from '../util/errors.js';
import { MEDIA } from './registry.js';

/** What a vault-bundle artifact is called in a registry (the manifest's artifactType). */
export const ARTIFACT_TYPE = 'application/vnd.vault-bundle.v1';
export const BLOB_LAYER = 'application/vnd.vault-bundle.blob.v1';
export const FILE_LAYER = 'application/vnd.vault-bundle.file.v1';
export const CYCLONEDX = 'application/vnd.cyclonedx+json';
export const TITLE = 'org.opencontainers.image.title';
/** The file's permission bits (octal), so a pulled ./verify and runtime/node stay executable. */
export const MODE = 'vnd.vault-bundle.mode';
export const EMPTY = { bytes: Buffer.from('{}'), digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface BundleFile {
  path: string;
  hex: string;
  size: number;
  mode: number;
}

export function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

export function digestOf(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** The bundle's files: every one SHA256SUMS lists (digests taken from it, as Zarf takes checksums.txt), plus SHA256SUMS and its signature. */
export async function bundleFiles(dir: string): Promise<BundleFile[]> {
  const st = await stat(dir).catch(() => undefined);
  const notBundle = (why: string) =>
    new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${dir}: ${why}`,
      subject: dir,
      hint: 'push a bundle folder (a tar or a split bundle: extract or join it first)',
    });
  if (!st?.isDirectory()) throw notBundle('not a bundle folder');
  if (await stat(join(dir, PARTS)).catch(() => undefined)) throw notBundle('a split (fat32) bundle cannot be pushed as it is');
  const sumsText = await readFile(join(dir, SUMS)).catch(() => undefined);
  if (!sumsText) throw notBundle(`no ${SUMS}`);
  const entries = [...parseSums(sumsText.toString('utf8'))].map(([path, hex]) => ({ path, hex }));
  entries.push({ path: SUMS, hex: createHash('sha256').update(sumsText).digest('hex') });
  const sig = await readFile(join(dir, SUMS_SIG)).catch(() => undefined);
  if (sig) entries.push({ path: SUMS_SIG, hex: createHash('sha256').update(sig).digest('hex') });
  const out: BundleFile[] = [];
  for (const e of entries) {
    const s = await stat(join(dir, e.path)).catch(() => undefined);
    if (!s) continue; // a delta bundle lists blobs its base holds
    out.push({ ...e, size: s.size, mode: s.mode & 0o777 });
  }
  return out;
}

/** The artifact manifest of a bundle: an OCI 1.1 image manifest, empty config, a layer per file titled by its path. */
export function bundleManifest(files: readonly BundleFile[], meta: { name?: string; version?: string; created?: string }, fallback = false): ImageManifest {
  const layers = files.map((f) => ({
    mediaType: f.path.startsWith('blobs/') ? BLOB_LAYER : FILE_LAYER,
    digest: `sha256:${f.hex}`,
    size: f.size,
    annotations: { [TITLE]: f.path, [MODE]: f.mode.toString(8).padStart(4, '0') },
  }));
  const annotations: Record<string, string> = {};
  if (meta.name) annotations['org.opencontainers.image.title'] = meta.name;
  if (meta.version) annotations['org.opencontainers.image.version'] = meta.version;
  if (meta.created) annotations['org.opencontainers.image.created'] = meta.created;
  // oras's fallback for registries that refuse artifactType: the type goes into config.mediaType.
  return fallback
    ? { schemaVersion: 2, mediaType: MEDIA.manifest, config: { mediaType: ARTIFACT_TYPE, digest: EMPTY.digest, size: EMPTY.size }, layers, annotations }
    : {
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        artifactType: ARTIFACT_TYPE,
        config: { mediaType: MEDIA.empty, digest: EMPTY.digest, size: EMPTY.size },
        layers,
        annotations,
      };
}

/** The SBOM as a referrer of the bundle manifest: found by scanners through the referrers API or the tag fallback. */
export function sbomManifest(sbom: BundleFile, subject: Descriptor): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    artifactType: CYCLONEDX,
    config: { mediaType: MEDIA.empty, digest: EMPTY.digest, size: EMPTY.size },
    layers: [{ mediaType: CYCLONEDX, digest: `sha256:${sbom.hex}`, size: sbom.size, annotations: { [TITLE]: SBOM } }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
}

export function isBundleManifest(m: ImageManifest): boolean {
  return m.artifactType === ARTIFACT_TYPE || m.config?.mediaType === ARTIFACT_TYPE;
}

export async function bundleMeta(dir: string): Promise<{ name?: string; version?: string; created?: string }> {
  try {
    const j = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8')) as { name?: string; version?: string; created?: string };
    return { ...(j.name ? { name: j.name } : {}), ...(j.version ? { version: j.version } : {}), ...(j.created ? { created: j.created } : {}) };
  } catch {
    return {};
  }
}

export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}
