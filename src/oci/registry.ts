import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { RegistryClient } from './client.js';
import { OciError } from './errors.js';

/** Blobs over this go up in PATCH chunks of this size (a proxy's body limit, resumable); smaller in one PUT. */
export const CHUNK = 64 * 1024 * 1024;

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
} as const;

export async function hasBlob(c: RegistryClient, digest: string): Promise<boolean> {
  const a = await c.send('HEAD', c.path(`blobs/${digest}`), { ok: [200, 404] });
  await a.body.dump();
  return a.status === 200;
}

/** Cross-repository mount: the registry links a blob another repository of it has; false when it starts an upload instead. */
export async function mountBlob(c: RegistryClient, digest: string, from: string): Promise<boolean> {
  const a = await c.send('POST', c.path(`blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`), { push: true, ok: [201, 202] });
  await a.body.dump();
  if (a.status === 201) return true;
  if (a.headers.location)
    await c
      .send('DELETE', a.headers.location, { push: true, ok: [204, 404, 405] })
      .then((x) => x.body.dump())
      .catch(() => {});
  return false;
}

async function startUpload(c: RegistryClient): Promise<string> {
  const a = await c.send('POST', c.path('blobs/uploads/'), { push: true, ok: [202] });
  await a.body.dump();
  if (!a.headers.location) throw new OciError({ code: 'OCI_HTTP', message: `${c.ref.registry} started an upload without a Location`, subject: c.ref.registry });
  return a.headers.location;
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

function counted(stream: Readable, onBytes: (n: number) => void): Readable {
  return stream.pipe(
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        onBytes(chunk.length);
        cb(null, chunk);
      },
    }),
  );
}

export interface UploadSource {
  digest: string;
  size: number;
  /** The file holding the blob (read in ranges), or its bytes. */
  file?: string;
  data?: Buffer;
}

/** How far an upload got, from the registry (`Range: 0-N`), for resuming after a failed chunk. */
async function uploadOffset(c: RegistryClient, location: string): Promise<{ location: string; offset: number }> {
  const a = await c.send('GET', location, { push: true, ok: [204] });
  await a.body.dump();
  const m = /^(?:bytes=)?0-(\d+)$/.exec(a.headers.range ?? '');
  return { location: a.headers.location ?? location, offset: m ? Number(m[1]) + 1 : 0 };
}

/**
 * Where a chunked upload stands, kept in a small file between runs: a push killed half-way continues from the
 * registry's offset (at most the chunk in flight is sent again). Absent: uploads start fresh each run.
 */
export interface UploadState {
  load(digest: string): Promise<string | undefined>;
  save(digest: string, location: string): Promise<void>;
  drop(digest: string): Promise<void>;
}

/** Uploads one blob: one PUT when small, else PATCH chunks with Content-Range, re-sending from the registry's offset after a failure. */
export async function uploadBlob(
  c: RegistryClient,
  src: UploadSource,
  onBytes: (n: number) => void,
  chunk = CHUNK,
  state?: UploadState,
): Promise<{ resumedAt: number }> {
  const body = (start: number, end: number) => () =>
    src.data
      ? counted(bufferStream(src.data.subarray(start, end)), onBytes)
      : counted(createReadStream(src.file!, { start, end: end - 1, highWaterMark: 1 << 20 }), onBytes);
  if (src.size <= chunk) {
    const location = await startUpload(c);
    const a = await c.send('PUT', withDigest(location, src.digest), {
      push: true,
      ok: [201],
      body: body(0, src.size),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(src.size) },
    });
    await a.body.dump();
    return { resumedAt: 0 };
  }
  let location = '';
  let offset = 0;
  const saved = await state?.load(src.digest);
  if (saved) ({ location, offset } = await uploadOffset(c, saved).catch(() => ({ location: '', offset: 0 })));
  if (!location) {
    location = await startUpload(c);
    offset = 0;
  }
  const resumedAt = offset;
  let failures = 0;
  while (offset < src.size) {
    const end = Math.min(src.size, offset + chunk);
    try {
      const a = await c.send('PATCH', location, {
        push: true,
        ok: [202],
        body: body(offset, end),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - offset), 'content-range': `${offset}-${end - 1}` },
      });
      await a.body.dump();
      location = a.headers.location ?? location;
      offset = end;
      await state?.save(src.digest, location);
    } catch (err) {
      if (++failures > 3 || (err as { name?: string }).name === 'AbortError') throw err;
      ({ location, offset } = await uploadOffset(c, location));
    }
  }
  const a = await c.send('PUT', withDigest(location, src.digest), { push: true, ok: [201], headers: { 'content-length': '0' } });
  await a.body.dump();
  await state?.drop(src.digest);
  return { resumedAt };
}

function bufferStream(b: Buffer): Readable {
  return Readable.from([b]);
}

export async function getManifest(c: RegistryClient, target: string): Promise<{ bytes: Buffer; mediaType: string; digest?: string }> {
  const a = await c.send('GET', c.path(`manifests/${target}`), { headers: { accept: `${MEDIA.manifest}, ${MEDIA.index}` } });
  const bytes = Buffer.from(await a.body.arrayBuffer());
  return {
    bytes,
    mediaType: (a.headers['content-type'] ?? '').split(';')[0]!.trim(),
    ...(a.headers['docker-content-digest'] ? { digest: a.headers['docker-content-digest'] } : {}),
  };
}

export async function putManifest(c: RegistryClient, target: string, bytes: Buffer, mediaType: string): Promise<void> {
  const a = await c.send('PUT', c.path(`manifests/${target}`), { push: true, ok: [201, 202], body: bytes, headers: { 'content-type': mediaType } });
  await a.body.dump();
}

/** The blob's bytes from `offset` (Range; a 200 means the registry ignored it and sends all). Follows one redirect (storage URLs) without our credentials. */
export async function getBlob(c: RegistryClient, digest: string, offset: number): Promise<{ stream: Readable; offset: number }> {
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let a = await c.send('GET', c.path(`blobs/${digest}`), { headers });
  if (a.status >= 300 && a.status < 400) {
    await a.body.dump();
    const { request } = await import('undici');
    const r = await request(new URL(a.headers.location!, c.base), { headers, maxRedirections: 3 } as Parameters<typeof request>[1]);
    if (r.statusCode !== 200 && r.statusCode !== 206) throw c.httpError('GET', `blob ${digest} (redirected)`, r.statusCode, {}, '');
    a = { status: r.statusCode, headers: {}, body: r.body };
  }
  return { stream: a.body as unknown as Readable, offset: a.status === 206 ? offset : 0 };
}
