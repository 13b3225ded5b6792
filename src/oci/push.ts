import { join } from 'node:path';
import pLimit from 'p-limit';
import { SBOM } from '../bundle/layout.js';
import type { Reporter } from '../util/events.js';
import { EMPTY, type BundleFile, type Descriptor, bundleFiles, bundleManifest, bundleMeta, digestOf, referrersTag, sbomManifest } from './artifact.js';
import type { RegistryClient } from './client.js';
import { OciError } from './errors.js';
import { refTarget } from './ref.js';
import { uploadStateIn } from './upload-state.js';
import { CHUNK, MEDIA, getManifest, hasBlob, mountBlob, putManifest, uploadBlob } from './registry.js';

export interface PushOptions {
  concurrency: number;
  report: Reporter;
  /** Another repository of the same registry to mount blobs from (cross-repository mount). */
  mountFrom?: string;
  chunkSize?: number;
  /** Where unfinished chunked uploads are remembered, so a push run again resumes them (e.g. <cache>/oci-uploads). */
  uploadStateDir?: string;
}

export interface PushResult {
  digest: string;
  size: number;
  blobs: number;
  uploaded: number;
  uploadedBytes: number;
  present: number;
  mounted: number;
  sbom?: string;
  /** The registry refused artifactType: pushed with the type as config media type instead (as oras does). */
  fallback: boolean;
  /** Bytes of chunked uploads a run before had sent already (not sent again). */
  resumedBytes: number;
  referrers: 'api' | 'tag' | 'none';
}

/** Pushes a bundle folder as an OCI 1.1 artifact; blobs the registry has are never sent again. */
export async function pushBundle(c: RegistryClient, dir: string, o: PushOptions): Promise<PushResult> {
  const files = await bundleFiles(dir);
  const byDigest = new Map<string, { path: string; size: number }>();
  for (const f of files) if (!byDigest.has(f.hex)) byDigest.set(f.hex, { path: f.path, size: f.size });
  o.report({ type: 'phase', phase: 'push', detail: `${byDigest.size} blobs to ${c.ref.registry}/${c.ref.repository}` });
  const { res, resumedBytes } = await pushBlobs(c, dir, byDigest, o);
  const { manifest, fallback } = await putBundleManifest(c, files, await bundleMeta(dir), o);
  const subject: Descriptor = { mediaType: MEDIA.manifest, digest: digestOf(manifest), size: manifest.length };
  if (c.ref.digest && c.ref.digest !== subject.digest) {
    throw new OciError({
      code: 'OCI_REF',
      message: `the bundle's manifest is ${subject.digest}, not the digest given (${c.ref.digest})`,
      subject: c.ref.digest,
      hint: 'push to a tag; the digest is printed afterwards',
    });
  }
  const sbom = files.find((f) => f.path === SBOM);
  const { referrers, sbomDigest } = sbom && !fallback ? await pushSbom(c, sbom, subject) : { referrers: 'none' as const, sbomDigest: undefined };
  return {
    digest: subject.digest,
    size: subject.size,
    blobs: byDigest.size + 1,
    ...res,
    resumedBytes,
    ...(sbomDigest ? { sbom: sbomDigest } : {}),
    fallback,
    referrers,
  };
}

type BlobCounts = Pick<PushResult, 'uploaded' | 'uploadedBytes' | 'present' | 'mounted'>;

/** The empty config and every distinct blob: present (skipped), mounted from `mountFrom`, or uploaded (chunked, resumable). */
async function pushBlobs(
  c: RegistryClient,
  dir: string,
  byDigest: Map<string, { path: string; size: number }>,
  o: PushOptions,
): Promise<{ res: BlobCounts; resumedBytes: number }> {
  const res: BlobCounts = { uploaded: 0, uploadedBytes: 0, present: 0, mounted: 0 };
  const limit = pLimit(o.concurrency);
  // Blobs of the manifest the tag points at now are in the registry (it checks them when a manifest is put):
  // an unchanged re-push is one GET, not a HEAD per blob.
  const known = await knownBlobs(c);
  const state = o.uploadStateDir ? uploadStateIn(o.uploadStateDir, c.ref.registry, c.ref.repository) : undefined;
  let resumedBytes = 0;
  const one = async (hex: string, src: { file?: string; data?: Buffer; size: number }, id: string) => {
    const digest = `sha256:${hex}`;
    if (known.has(digest) || (await hasBlob(c, digest))) {
      res.present++;
      return;
    }
    if (o.mountFrom && (await mountBlob(c, digest, o.mountFrom))) {
      res.mounted++;
      return;
    }
    o.report({ type: 'download:start', id, size: src.size, resumeFrom: 0 });
    const { resumedAt } = await uploadBlob(
      c,
      { digest, ...src },
      (n) => {
        res.uploadedBytes += n;
        o.report({ type: 'download:progress', id, bytes: n });
      },
      o.chunkSize ?? CHUNK,
      state,
    );
    resumedBytes += resumedAt;
    res.uploaded++;
    o.report({ type: 'download:done', id, size: src.size, cached: false });
  };
  await Promise.all([
    limit(() => one(EMPTY.digest.slice(7), { data: EMPTY.bytes, size: EMPTY.size }, 'config')),
    ...[...byDigest].map(([hex, f]) => limit(() => one(hex, { file: join(dir, f.path), size: f.size }, f.path))),
  ]);
  return { res, resumedBytes };
}

/** Puts the bundle's manifest at the ref: an OCI 1.1 artifact, or (a registry that answers 400) the oras fallback. */
async function putBundleManifest(
  c: RegistryClient,
  files: BundleFile[],
  meta: Awaited<ReturnType<typeof bundleMeta>>,
  o: PushOptions,
): Promise<{ manifest: Buffer; fallback: boolean }> {
  const manifest = Buffer.from(JSON.stringify(bundleManifest(files, meta)));
  const target = refTarget(c.ref);
  try {
    await putManifest(c, target, manifest, MEDIA.manifest);
    return { manifest, fallback: false };
  } catch (err) {
    if (!(err instanceof OciError) || err.code !== 'OCI_HTTP' || !/\b400\b/.test(err.message)) throw err;
    // A registry that does not know artifactType: the oras fallback, said out loud.
    o.report({
      type: 'warn',
      message: `${c.ref.registry} refused the OCI 1.1 artifact manifest (${err.message}); pushed it as an image manifest with config media type application/vnd.vault-bundle.v1 instead`,
    });
    const image = Buffer.from(JSON.stringify(bundleManifest(files, meta, true)));
    await putManifest(c, target, image, MEDIA.manifest);
    return { manifest: image, fallback: true };
  }
}

/** The SBOM's own manifest, its subject the bundle's, registered as a referrer (API or tag fallback). */
async function pushSbom(c: RegistryClient, sbom: BundleFile, subject: Descriptor): Promise<{ referrers: PushResult['referrers']; sbomDigest: string }> {
  const sm = Buffer.from(JSON.stringify(sbomManifest(sbom, subject)));
  const sbomDigest = digestOf(sm);
  await putManifest(c, sbomDigest, sm, MEDIA.manifest);
  const referrers = await addReferrer(c, subject.digest, {
    mediaType: MEDIA.manifest,
    digest: sbomDigest,
    size: sm.length,
    artifactType: 'application/vnd.cyclonedx+json',
  });
  return { referrers, sbomDigest };
}

async function knownBlobs(c: RegistryClient): Promise<Set<string>> {
  if (c.ref.digest || !c.ref.tag) return new Set();
  try {
    const m = JSON.parse((await getManifest(c, c.ref.tag)).bytes.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
    return new Set([...(m.layers ?? []), ...(m.config ? [m.config] : [])].map((d) => d.digest));
  } catch (err) {
    if (err instanceof OciError && (err.code === 'OCI_NOT_FOUND' || err.code === 'OCI_BAD_MANIFEST')) return new Set();
    if (err instanceof SyntaxError) return new Set();
    throw err;
  }
}

/** Registers a referrer: nothing to do where the registry has the referrers API, else the `sha256-<hex>` tag holding an index of them. */
async function addReferrer(c: RegistryClient, subject: string, ref: Descriptor): Promise<'api' | 'tag'> {
  const api = await c.send('GET', c.path(`referrers/${subject}`), { ok: [200, 404] });
  const type = api.headers['content-type'] ?? '';
  await api.body.dump();
  if (api.status === 200 && type.includes(MEDIA.index)) return 'api';
  const tag = referrersTag(subject);
  let index: { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } = { schemaVersion: 2, mediaType: MEDIA.index, manifests: [] };
  try {
    index = JSON.parse((await getManifest(c, tag)).bytes.toString('utf8')) as typeof index;
  } catch (err) {
    if (!(err instanceof OciError) || err.code !== 'OCI_NOT_FOUND') throw err;
  }
  if (!index.manifests.some((m) => m.digest === ref.digest)) {
    index.manifests.push(ref);
    await putManifest(c, tag, Buffer.from(JSON.stringify(index)), MEDIA.index);
  }
  return 'tag';
}
