import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { IntegrityError, LocalError } from '../util/errors.js';
import type { Reporter } from '../util/events.js';
import { type Descriptor, type ImageManifest, MODE, TITLE, digestOf, hexOf, isBundleManifest } from './artifact.js';
import { OciError } from './errors.js';

/** Where a pull reads from: a registry or an OCI image layout. */
export interface BlobSource {
  describe: string;
  /** The manifest's bytes; `digest` when the source named one (checked against the bytes). */
  manifest(): Promise<{ bytes: Buffer; digest?: string }>;
  blob(digest: string, offset: number): Promise<{ stream: Readable; offset: number }>;
}

export interface PullResult {
  dir: string;
  digest: string;
  files: number;
  bytes: number;
  fetchedBytes: number;
  resumed: number;
}

/** Partial downloads live here inside the output folder until their digest checks; removed when the pull completes. */
export const PARTIAL = '.vault-bundle-pull';

function safePath(p: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a title with control characters is refused, never printed
  return (
    !/[\u0000-\u001f\u007f-\u009f]/.test(p) &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    !p.split('/').some((s) => s === '' || s === '.' || s === '..') &&
    p !== PARTIAL &&
    !p.startsWith(`${PARTIAL}/`)
  );
}

export async function readBundleManifest(src: BlobSource): Promise<{ manifest: ImageManifest; digest: string }> {
  const { bytes, digest } = await src.manifest();
  const actual = digestOf(bytes);
  if (digest && digest !== actual)
    throw new IntegrityError({
      code: 'DIGEST_MISMATCH',
      message: `the manifest from ${src.describe} is ${actual}, not ${digest}`,
      subject: digest,
      expected: digest,
      found: actual,
    });
  let m: ImageManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw new OciError({ code: 'OCI_BAD_MANIFEST', message: `${src.describe}: the manifest is not JSON`, subject: src.describe });
  }
  if (!Array.isArray(m.layers) || !isBundleManifest(m)) {
    throw new OciError({
      code: 'OCI_NOT_A_BUNDLE',
      message: `${src.describe} is not a vault-bundle artifact (artifactType ${JSON.stringify(m.artifactType ?? m.config?.mediaType ?? null)})`,
      subject: src.describe,
      hint: 'give the reference a bundle was pushed to with vault-bundle push',
    });
  }
  const seen = new Set<string>();
  for (const l of m.layers) {
    const t = l.annotations?.[TITLE];
    if (!t || !safePath(t) || seen.has(t) || !/^sha256:[0-9a-f]{64}$/.test(l.digest)) {
      throw new OciError({
        code: 'OCI_BAD_MANIFEST',
        message: `${src.describe}: layer ${JSON.stringify(t ?? l.digest).slice(0, 200)} has no title, an unsafe or repeated one, or a bad digest`,
        subject: String(t),
      });
    }
    seen.add(t);
  }
  return { manifest: m, digest: actual };
}

/** Fetches one blob into `tmp`, resuming from what is there, hashing every byte; renamed into place only when the digest matches. */
async function fetchBlob(src: BlobSource, l: Descriptor, tmp: string, onStart: (from: number) => void, onBytes: (n: number) => void): Promise<number> {
  let hash = createHash('sha256');
  let have = (await stat(tmp).catch(() => undefined))?.size ?? 0;
  if (have > l.size) {
    await rm(tmp, { force: true });
    have = 0;
  }
  if (have > 0)
    await pipeline(
      createReadStream(tmp),
      new Transform({
        transform(c: Buffer, _e, cb) {
          hash.update(c);
          cb();
        },
      }),
    );
  let size = have;
  let from = have;
  if (have >= l.size) onStart(have);
  else {
    const { stream, offset } = await src.blob(l.digest, have);
    if (offset === 0 && have > 0) hash = createHash('sha256'); // the source ignored Range: start over
    from = offset;
    onStart(from);
    size = offset;
    const h = hash;
    await pipeline(
      stream,
      new Transform({
        transform(c: Buffer, _e, cb) {
          size += c.length;
          if (size > l.size) return cb(new RangeError('longer than its size'));
          h.update(c);
          onBytes(c.length);
          cb(null, c);
        },
      }),
      createWriteStream(tmp, { flags: offset === 0 ? 'w' : 'a' }),
    ).catch(async (err: unknown) => {
      if (err instanceof RangeError) {
        await rm(tmp, { force: true });
        throw mismatch(src, l, err.message);
      }
      throw err;
    });
  }
  const found = `sha256:${hash.digest('hex')}`;
  if (size !== l.size || found !== l.digest) {
    await rm(tmp, { force: true });
    throw mismatch(src, l, size !== l.size ? `${size} bytes, not ${l.size}` : `its bytes hash to ${found}`);
  }
  return from;
}

function mismatch(src: BlobSource, l: Descriptor, why: string): IntegrityError {
  const title = l.annotations?.[TITLE] ?? l.digest;
  return new IntegrityError({
    code: 'DIGEST_MISMATCH',
    message: `${title} (${l.digest}) from ${src.describe} is damaged: ${why}`,
    subject: title,
    expected: l.digest,
    hint: "the registry's copy of that blob is damaged: push the bundle again (its blobs are re-sent only where missing), or ask the registry admin",
  });
}

/**
 * A pull writes into a new or empty folder, or resumes one that stopped there: the partial folder names the
 * manifest it was pulling, so files placed before are known to be this bundle's, checked.
 */
async function startOrResume(dir: string, partial: string, digest: string): Promise<void> {
  const existing = await readdir(dir).catch(() => undefined);
  const marker = join(partial, 'manifest-digest');
  if (existing?.includes(PARTIAL)) {
    const was = (await readFile(marker, 'utf8').catch(() => '')).trim();
    if (was === digest) return;
    throw new LocalError({
      code: 'OUTPUT_EXISTS',
      message: `${dir} holds a pull of another bundle (${was || 'unknown'}) that stopped`,
      subject: dir,
      hint: `pull into another folder, or remove ${dir} first`,
    });
  }
  if (existing?.length)
    throw new LocalError({
      code: 'OUTPUT_EXISTS',
      message: `${dir} exists and is not empty`,
      subject: dir,
      hint: 'pull into a new or empty folder (a pull that stopped resumes in its own folder)',
    });
  await mkdir(partial, { recursive: true });
  await writeFile(marker, `${digest}\n`);
}

/** Whether `dir` holds a finished pull (no partial folder left). */
export async function pulledComplete(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => undefined);
  return Boolean(names?.length) && !names!.includes(PARTIAL);
}

/** Pulls a bundle artifact into `dir` (made if missing; resumes a pull that stopped there); every file is checked before it is placed. */
export async function pullBundle(src: BlobSource, dir: string, o: { concurrency: number; report: Reporter }): Promise<PullResult> {
  const { manifest, digest } = await readBundleManifest(src);
  const partial = join(dir, PARTIAL);
  await startOrResume(dir, partial, digest);
  const groups = new Map<string, Descriptor[]>();
  for (const l of manifest.layers) groups.set(l.digest, [...(groups.get(l.digest) ?? []), l]);
  const res = { fetchedBytes: 0, resumed: 0, bytes: 0 };
  o.report({ type: 'phase', phase: 'pull', detail: `${groups.size} blobs from ${src.describe}` });
  const limit = pLimit(o.concurrency);
  const all = [...groups.values()];
  // Placed only after its digest was checked: what an earlier pull placed is done (counted so from the start).
  const placed = await Promise.all(
    all.map(async (ls) =>
      (await Promise.all(ls.map(async (l) => (await stat(join(dir, l.annotations![TITLE]!)).catch(() => undefined))?.size === l.size))).every(Boolean),
    ),
  );
  const sizeOf = (pick: (i: number) => boolean) => all.reduce((n, ls, i) => n + (pick(i) ? ls[0]!.size : 0), 0);
  const cachedFiles = placed.filter(Boolean).length;
  o.report({ type: 'fetch:plan', files: all.length, bytes: sizeOf(() => true), cachedFiles, cachedBytes: sizeOf((i) => placed[i]!) });
  await Promise.all(
    all.map((ls, i) =>
      limit(async () => {
        const first = ls[0]!;
        res.bytes += first.size * ls.length;
        if (placed[i]) return;
        const id = first.annotations![TITLE]!;
        const tmp = join(partial, hexOf(first.digest));
        const start = (resumeFrom: number) => o.report({ type: 'download:start', id, size: first.size, resumeFrom });
        const from = await fetchBlob(src, first, tmp, start, (n) => {
          res.fetchedBytes += n;
          o.report({ type: 'download:progress', id, bytes: n });
        });
        if (from > 0) res.resumed++;
        for (const [i, l] of ls.entries()) {
          const path = join(dir, l.annotations![TITLE]!);
          await mkdir(dirname(path), { recursive: true });
          const mode = Number.parseInt(l.annotations?.[MODE] ?? '644', 8) & 0o777;
          if (i === ls.length - 1) {
            await chmod(tmp, mode);
            await rename(tmp, path);
          } else {
            await copyFile(tmp, `${path}.tmp`);
            await chmod(`${path}.tmp`, mode);
            await rename(`${path}.tmp`, path);
          }
        }
        o.report({ type: 'download:done', id, size: first.size, cached: false });
      }),
    ),
  );
  await rm(partial, { recursive: true, force: true });
  return { dir, digest, files: manifest.layers.length, ...res };
}
