import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SBOM } from '../bundle/layout.js';
import { errnoCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import {
  EMPTY,
  type Descriptor,
  bundleFiles,
  bundleManifest,
  bundleMeta,
  digestOf,
  hexOf,
  isBundleManifest,
  sbomManifest,
  type ImageManifest,
} from './artifact.js';
import { OciError } from './errors.js';
import type { BlobSource } from './pull.js';
import { MEDIA } from './registry.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** Puts a blob into the layout: a hard link to the bundle's file where the filesystem allows, else a copy. */
async function placeBlob(blobs: string, hex: string, from: string | Buffer): Promise<void> {
  const to = join(blobs, hex);
  if (await stat(to).catch(() => undefined)) return;
  if (Buffer.isBuffer(from)) return writeFileAtomic(to, from, 0o444);
  try {
    await link(from, to);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return;
    await copyFile(from, to);
  }
}

/** Writes an OCI image layout (oci-layout, index.json, blobs/sha256) of the bundle, tagged `tag`, with its SBOM referrer. */
export async function exportLayout(bundle: string, dir: string, tag: string): Promise<{ digest: string; blobs: number }> {
  const files = await bundleFiles(bundle);
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const f of files) await placeBlob(blobs, f.hex, join(bundle, f.path));
  await placeBlob(blobs, hexOf(EMPTY.digest), EMPTY.bytes);
  const manifest = Buffer.from(JSON.stringify(bundleManifest(files, await bundleMeta(bundle))));
  const digest = digestOf(manifest);
  await placeBlob(blobs, hexOf(digest), manifest);
  const main: Descriptor = { mediaType: MEDIA.manifest, digest, size: manifest.length };
  const index: Index = { schemaVersion: 2, mediaType: MEDIA.index, manifests: [{ ...main, annotations: { [REF_NAME]: tag } }] };
  const sbom = files.find((f) => f.path === SBOM);
  if (sbom) {
    const sm = Buffer.from(JSON.stringify(sbomManifest(sbom, main)));
    await placeBlob(blobs, hexOf(digestOf(sm)), sm);
    index.manifests.push({ mediaType: MEDIA.manifest, digest: digestOf(sm), size: sm.length, artifactType: 'application/vnd.cyclonedx+json' });
  }
  // An existing layout keeps its other images; this tag moves to this bundle.
  const old = await readIndex(dir).catch(() => undefined);
  if (old) index.manifests.push(...old.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag && !index.manifests.some((n) => n.digest === m.digest)));
  await writeFileAtomic(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
  return { digest, blobs: new Set(files.map((f) => f.hex)).size };
}

async function readIndex(dir: string): Promise<Index> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Index;
}

/** An OCI image layout (ours, skopeo's, oras's) as a pull source: the manifest named `tag`, or the one bundle manifest in it. */
export function layoutSource(dir: string, tag?: string): BlobSource {
  const describe = `oci:${dir}${tag ? `:${tag}` : ''}`;
  const blobPath = (digest: string) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new OciError({ code: 'OCI_BAD_MANIFEST', message: `${describe}: bad digest ${JSON.stringify(digest)}`, subject: describe });
    return join(dir, 'blobs', 'sha256', hexOf(digest));
  };
  return {
    describe,
    async manifest() {
      let index: Index;
      try {
        index = await readIndex(dir);
      } catch {
        throw new OciError({
          code: 'OCI_NOT_FOUND',
          message: `${dir} is not an OCI image layout (no readable index.json)`,
          subject: dir,
          hint: 'give the folder skopeo copy … oci:DIR or vault-bundle export --oci-layout wrote',
        });
      }
      const named = tag ? index.manifests.filter((m) => m.annotations?.[REF_NAME] === tag) : [];
      let candidates = tag ? named : index.manifests.filter((m) => m.mediaType === MEDIA.manifest);
      if (!tag && candidates.length > 1) {
        const ours: Descriptor[] = [];
        for (const m of candidates) {
          const parsed = JSON.parse(await readFile(blobPath(m.digest), 'utf8')) as ImageManifest;
          if (isBundleManifest(parsed)) ours.push(m);
        }
        candidates = ours;
      }
      if (candidates.length !== 1) {
        throw new OciError({
          code: 'OCI_NOT_FOUND',
          message: `${describe}: ${candidates.length ? 'several bundles; name one with oci:DIR:TAG' : 'no bundle manifest found'}`,
          subject: describe,
        });
      }
      const d = candidates[0]!;
      return { bytes: await readFile(blobPath(d.digest)), digest: d.digest };
    },
    async blob(digest: string, offset: number): Promise<{ stream: Readable; offset: number }> {
      const p = blobPath(digest);
      if (!(await stat(p).catch(() => undefined)))
        throw new OciError({ code: 'OCI_NOT_FOUND', message: `${describe}: blob ${digest} is missing`, subject: digest });
      return { stream: createReadStream(p, { start: offset, highWaterMark: 1 << 20 }), offset };
    },
  };
}
