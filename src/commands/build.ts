import { readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { assembleBundle, checkOutput, swapInto } from '../bundle/assemble.js';
import { type BundleIndex, bundleCreated, makeIndex } from '../bundle/index.js';
import { FAT32_PART_SIZE, type Media, writeSplitBundle } from '../bundle/media.js';
import { loadIndex } from '../bundle/load.js';
import { SUMS } from '../bundle/layout.js';
import { parseSums } from '../bundle/sums.js';
import { formatBytes } from '../util/format.js';
import { checkWritableFolderOf, followLinks, outputTarget, sweepStaleTemps, tempDone, tempSibling } from '../util/fs.js';
import { readSigningKey } from '../bundle/signature.js';
import { readPassphrase, signBundle } from './sign.js';
import { checkSpace, sameFilesystem } from '../util/space.js';
import type { Locked } from '../sources/source.js';
import { type StagedTar, stageDeterministicTar } from '../bundle/tar.js';
import { fetchAll } from '../fetch/download.js';
import type { Lock } from '../lock/lock.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import { sourceFor, sources } from '../sources/registry.js';
import type { BuildCtx } from '../sources/source.js';
import { InterruptedError, UsageError, localWriteError } from '../util/errors.js';
import { lockForBuild, targetProbe } from './lock.js';
import { VERIFY_SH, WRAPPER_SH, fieldReadme, prepareRuntime } from '../runtime/carry.js';

export interface BuildOptions {
  manifest: string;
  lock?: string;
  out?: string;
  tar?: string;
  frozen: boolean;
  concurrency: number;
  /** `host`: carry this machine's node and the packed tool (./verify works on a box without Node.js); `none`. */
  runtime?: string;
  /** A probe file of the box (`vault-bundle probe`): bundle only what that box lacks. */
  target?: string;
  /** dir (default), tar (also `<out>.tar` unless --tar names it), fat32 (blobs in parts of `partSize`). */
  media?: Media;
  partSize?: number;
  /** An older bundle (folder, tar, split folder, or its bundle.json): write only the blobs it lacks. */
  base?: string;
  now?: Date;
  /** Secret key file: sign the bundle as `vault-bundle sign` would (SHA256SUMS.asc, the apt repository's InRelease). */
  signKey?: string;
  /** First line: the passphrase of a protected signing key. */
  passphraseFile?: string;
  /** When the bundle expires: an ISO 8601 date or time, or a duration from its `created` time (90d, 12w, 36h). */
  expires?: string;
}

export interface BuildResult {
  dir: string;
  tar?: string;
  lockPath: string;
  lockResolved: boolean;
  lock: Lock;
  /** Files SHA256SUMS lists (what verify checks and counts): SHA256SUMS and SHA256SUMS.asc are not counted. */
  files: number;
  bytes: number;
  /** fat32 media: how many parts. */
  parts?: number;
  /** A delta: its base and how many blobs come from it. */
  base?: { name: string; version: string; blobs: number };
  /** build --sign-key: the signer's fingerprint. */
  signer?: string;
  expires?: string;
}

export async function buildCommand(o: BuildOptions, ctxFor: (m: LoadedManifest) => BuildCtx): Promise<BuildResult> {
  const m = await loadManifest(o.manifest);
  // A signing key that cannot be used fails before anything is fetched.
  const signKey = o.signKey ? await readSigningKey(o.signKey, o.passphraseFile ? await readPassphrase(o.passphraseFile) : undefined) : undefined;
  const probe = o.target ? await targetProbe(o.target, m) : undefined;
  const media = o.media ?? 'dir';
  // Where the bundle goes is checked before anything is resolved or fetched: a build of an hour must not
  // fail at its last step on a read-only disk or a file in the way. A symlinked --out is followed (the
  // folder is replaced where it really is; the link stays).
  const out = await followLinks(o.out ?? `bundles/${m.manifest.name}`);
  const tarTo = o.tar ?? (media === 'tar' ? `${out}.tar` : undefined);
  await checkWritableFolderOf(out, '--out');
  await checkOutput(out);
  const tarTarget = tarTo ? await outputTarget(tarTo, '--tar') : undefined;
  if (tarTarget && !tarTarget.direct) await checkWritableFolderOf(tarTarget.path, '--tar');
  const ctx = ctxFor(m);
  const swept = [...(await sweepStaleTemps(out)), ...(tarTarget && !tarTarget.direct ? await sweepStaleTemps(tarTarget.path) : [])];
  if (swept.length > 0) {
    ctx.report({ type: 'info', message: `removed what an interrupted build left: ${swept.map((p) => relative(process.cwd(), p) || p).join(', ')}` });
  }
  ctx.report({ type: 'phase', phase: 'lock' });
  const { lock, path: lockPath, resolved } = await lockForBuild(
    m,
    { lockPath: o.lock, frozen: o.frozen, now: o.now, ...(probe ? { probe } : {}) },
    ctx,
  );
  const base = o.base ? await readBase(o.base, m.manifest.name) : undefined;
  const fromBase = new Set(base ? lock.artifacts.filter((a) => base.digests.has(a.digest)).map((a) => a.digest) : []);
  const toFetch = lock.artifacts.filter((a) => !fromBase.has(a.digest));
  await checkBuildSpace(toFetch, ctx, out, media, tarTarget && !tarTarget.direct ? tarTarget.path : undefined);
  ctx.report({ type: 'phase', phase: 'fetch', detail: `${toFetch.length} artifacts${base ? ` (${fromBase.size} from the base)` : ''}` });
  // The carried runtime (hashing a 100 MB node, or fetching one from the registry) overlaps the downloads.
  const runtimeReady = prepareRuntime(o.runtime ?? 'none', m.manifest.target.arch, ctx);
  runtimeReady.catch(() => undefined); // marks it handled: its error is thrown where it is awaited below
  try {
    await fetchAll(toFetch, ctx, { concurrency: o.concurrency, sourceFor });
  } catch (err) {
    await runtimeReady.catch(() => undefined); // let it finish (and clean up) before the error ends the run
    throw err;
  }
  if (ctx.signal.aborted) throw new InterruptedError();
  ctx.report({ type: 'phase', phase: 'assemble' });
  const created = bundleCreated(lock);
  const runtime = await runtimeReady;
  const baseRef = base ? { name: base.name, version: base.version, index: base.indexDigest, blobs: [...fromBase].sort() } : undefined;
  const expires = o.expires ? expiryOf(o.expires, created, o.now ?? new Date()) : undefined;
  const index: BundleIndex = { ...makeIndex(m.manifest, lock, created, runtime, baseRef), ...(expires ? { expires } : {}) };
  const views: Record<string, string> = {};
  for (const s of sources) {
    const items = lock.artifacts.filter((a) => a.kind === s.kind);
    if (items.length && s.views) Object.assign(views, s.views(items));
  }
  const scripts: Record<string, string> = runtime.length
    ? { verify: VERIFY_SH, 'vault-bundle': WRAPPER_SH, 'README-FIELD.txt': fieldReadme(m.manifest.name, m.manifest.version) }
    : {};
  const extra = { views, runtime, scripts, skipBlobs: fromBase, signal: ctx.signal };
  // Everything, the signature and the tar included, is made beside `out`, and the folder is renamed in only
  // at the very end: `out` is always the old bundle or the whole new one, never an unsigned one, nor a new
  // one whose tar failed.
  await checkOutput(out);
  const stage = tempSibling(out);
  const whole = tempSibling(out);
  let tar: StagedTar | undefined;
  try {
    let r: { files: number; bytes: number };
    let parts: number | undefined;
    if (media === 'fat32') {
      r = await assembleBundle(index, ctx.store, whole, extra);
      if (ctx.signal.aborted) throw new InterruptedError();
      ctx.report({ type: 'phase', phase: 'split', detail: `parts of ${formatBytes(o.partSize ?? FAT32_PART_SIZE)}` });
      parts = (
        await writeSplitBundle(whole, stage, {
          name: m.manifest.name,
          version: m.manifest.version,
          partSize: o.partSize ?? FAT32_PART_SIZE,
          mtime: new Date(created),
          signal: ctx.signal,
        })
      ).parts;
    } else {
      r = await assembleBundle(index, ctx.store, stage, extra);
    }
    const signed = signKey ? await sign(stage) : undefined;
    // The count verify reports: the files SHA256SUMS lists (not itself, nor SHA256SUMS.asc).
    const listed = parseSums(await readFile(join(stage, SUMS), 'utf8')).size;
    if (tarTo) {
      if (ctx.signal.aborted) throw new InterruptedError();
      ctx.report({ type: 'phase', phase: 'tar' });
      tar = await stageDeterministicTar(stage, tarTo, `${m.manifest.name}-${m.manifest.version}`, new Date(created), ctx.signal, '--tar');
    }
    // The last point where Ctrl-C undoes the build; after the swap the new bundle is in place and completes.
    if (ctx.signal.aborted) throw new InterruptedError();
    await swapInto(stage, out).catch((err: unknown) => {
      throw localWriteError(err, out);
    });
    // The tar follows the folder by one rename (nothing to do when it was streamed into a device or FIFO).
    await tar?.commit();
    return done(
      { files: listed, bytes: r.bytes },
      { ...(parts !== undefined ? { parts } : {}), ...(tar ? { tar: tar.path } : {}), ...(signed ? { signer: signed.signer } : {}) },
    );
  } catch (err) {
    await tar?.discard();
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(whole, { recursive: true, force: true });
    tempDone(stage);
    tempDone(whole);
  }

  /** The same signing as `vault-bundle sign` (the bundle was just assembled from the checked store: no re-verify). */
  async function sign(dir: string): Promise<{ signer: string }> {
    if (ctx.signal.aborted) throw new InterruptedError();
    const s = await signBundle(dir, signKey!, { now: o.now ?? new Date(), verify: false, report: ctx.report });
    return { signer: s.signer };
  }

  function done(r: { dir?: string; files: number; bytes: number }, more: Partial<BuildResult>): BuildResult {
    return {
      dir: out,
      lockPath,
      lockResolved: resolved,
      lock,
      files: r.files,
      bytes: r.bytes,
      ...(baseRef ? { base: { name: baseRef.name, version: baseRef.version, blobs: baseRef.blobs.length } } : {}),
      ...(expires ? { expires } : {}),
      ...more,
    };
  }
}

/**
 * Room for what is not in the cache yet, and for the output: a folder is hard links into the cache (no room)
 * when they share a filesystem, else a copy; a tar or parts are written in full (fat32 also assembles the
 * folder beside them first).
 */
async function checkBuildSpace(toFetch: readonly Locked[], ctx: BuildCtx, out: string, media: Media, tar: string | undefined): Promise<void> {
  let missing = 0;
  for (const a of toFetch) if (!(await ctx.store.has(a.digest, a.size))) missing += a.size;
  const total = toFetch.reduce((n, a) => n + a.size, 0);
  const folder = (await sameFilesystem(ctx.store.root, out)) ? 0 : total;
  await checkSpace([
    { path: ctx.store.root, bytes: missing, what: 'downloads into the cache' },
    { path: out, bytes: folder, what: 'the bundle folder (copies: the cache is on another filesystem)' },
    ...(media === 'fat32' ? [{ path: out, bytes: total, what: 'the parts' }] : []),
    ...(tar ? [{ path: tar, bytes: total, what: 'the tar' }] : []),
  ]);
}

/**
 * The base of a delta build: a bundle in any form (read through its index), or its bundle.json alone (the
 * release engineer may keep only that). Only the same bundle name can be a base.
 */
async function readBase(location: string, name: string): Promise<{ name: string; version: string; indexDigest: `sha256:${string}`; digests: Set<string> }> {
  const { index: idx, sha256 } = await loadIndex(location);
  if (idx.name !== name) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--base ${location} is bundle "${idx.name}", this manifest builds "${name}"`,
      subject: location,
      hint: 'a delta is built over an older version of the same bundle',
    });
  }
  if (idx.base) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--base ${location} is itself a delta (over ${idx.base.name} ${idx.base.version})`,
      subject: location,
      hint: 'build deltas over a full bundle',
    });
  }
  return {
    name: idx.name,
    version: idx.version,
    indexDigest: `sha256:${sha256}`,
    digests: new Set(idx.artifacts.map((a) => a.digest)),
  };
}

/**
 * `--expires`: an ISO 8601 date or time, or a duration (days, weeks, hours) counted from the bundle's `created`
 * time, so the same lock gives the same bundle.json. An expiry that is already past is refused.
 */
export function expiryOf(value: string, created: string, now: Date): string {
  const v = value.trim();
  const rel = /^(\d+)([hdw])$/.exec(v);
  const hours = { h: 1, d: 24, w: 24 * 7 } as const;
  let t = NaN;
  if (rel) t = Date.parse(created) + Number(rel[1]) * hours[rel[2] as keyof typeof hours] * 3_600_000;
  else if (/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    // A date alone, or a time without a zone, is UTC.
    t = Date.parse(/[T ]/.test(v) && !/(?:Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v}Z` : v);
  }
  if (!Number.isFinite(t)) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--expires ${value}: expected an ISO 8601 date or time (2027-06-30, 2027-06-30T12:00:00Z) or a duration such as 90d, 12w or 36h`,
      subject: '--expires',
    });
  }
  const iso = new Date(t).toISOString();
  if (t <= now.getTime()) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--expires ${value} is ${iso}, which has already passed${rel ? ` (counted from the bundle's created time ${created})` : ''}`,
      subject: '--expires',
      hint: rel ? 'the lock is older than that: give a later date, or lock again (or set SOURCE_DATE_EPOCH) for a newer created time' : 'give a date in the future',
    });
  }
  return iso;
}
