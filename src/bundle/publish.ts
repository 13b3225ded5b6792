import { readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { type AssembleResult, assembleBundle, checkOutput, swapInto } from './assemble.js';
import { recordPlaced } from '../store/placed.js';
import { type BundleIndex, bundleCreated, makeIndex } from './index.js';
import { SUMS } from './layout.js';
import { FAT32_PART_SIZE, writeSplitBundle } from './media.js';
import { checkBuildSpace, expiryOf, readBase, scriptsOf, viewsOf } from './publish-steps.js';
import { readPassphrase, signBundle } from './sign.js';
import { readSigningKey } from './signature.js';
import { parseSums } from './sums.js';
import { type StagedTar, stageDeterministicTar } from './tar.js';
import { formatBytes } from '../util/format.js';
import { type FetchTally, fetchTallied } from '../fetch/download.js';
import { streamThreadsFor } from '../fetch/stream-threads.js';
import { lockForBuild, targetProbe } from '../lock/for-build.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import { prepareRuntime } from '../runtime/carry.js';
import { sourceFor } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import { factsAlongside } from './facts.js';
import { FileHashers } from './hash-workers.js';
import { InterruptedError, localWriteError } from '../util/errors.js';
import { phaseDone } from '../util/gc.js';
import { releaseIdleSlots } from '../store/writer.js';
import { TeeFolder } from '../store/tee.js';
import { checkWritableFolderOf, followLinks, outputTarget, sweepStaleTemps, tempDone, tempSibling } from '../util/fs.js';

export { expiryOf } from './publish-steps.js';
export type { BuildOptions, BuildResult } from './build-types.js';
import type { BuildOptions, BuildPlan as Plan, BuildResult, Fetched } from './build-types.js';

/**
 * Builds a bundle from a manifest, in this order: check where it goes, lock (or re-lock), read the delta's base,
 * check free space, fetch (the carried runtime alongside), index, views and scripts, assemble (and split),
 * sign, tar, and swap the finished folder into place. `out` is always the old bundle or the whole new one.
 */
export async function buildBundle(o: BuildOptions, ctxFor: (m: LoadedManifest) => BuildCtx): Promise<BuildResult> {
  const t0 = performance.now();
  const plan = await planBuild(o, ctxFor);
  // Where the downloads write the bundle's copies (store/tee.ts): this build's temp, gone however it ends.
  const tee = await TeeFolder.beside(plan.out, plan.ctx.store.root);
  try {
    const f = await lockAndFetch(o, plan, tee);
    return await assembleFetched(o, plan, f, t0, tee);
  } finally {
    await tee?.remove();
  }
}

/** bundle.json, the views, the assembly (the split), the signature and the tar, from what lockAndFetch gave. */
async function assembleFetched(o: BuildOptions, plan: Plan, f: Fetched, t0: number, tee: TeeFolder | undefined): Promise<BuildResult> {
  const { m, ctx } = plan;
  ctx.report({ type: 'phase', phase: 'assemble' });
  const created = bundleCreated(f.lock);
  const runtime = await f.runtime;
  const expires = o.expires ? expiryOf(o.expires, created, o.now ?? new Date()) : undefined;
  const indexOf = (artifacts: Locked[]): BundleIndex => ({
    ...makeIndex(m.manifest, { ...f.lock, artifacts }, created, runtime, f.baseRef),
    ...(expires ? { expires } : {}),
  });
  // The download's page-aligned write buffers go before the copies (store/writer.ts).
  releaseIdleSlots();
  // bundle.json's artifacts are the lock's with what their sources read from the fetched bytes (apt licences),
  // read while fetching; the last reads (the small .debs come last) end seconds after the fetch: the blobs (the
  // lock's digests) are copied meanwhile, and bundle.json and the SBOM are made when the facts are all in.
  const final = f.artifacts.then(indexOf);
  final.catch(() => undefined); // awaited by the assembly; a failed copy must not leave it unheard
  const extra = {
    views: viewsOf(f.lock),
    runtime,
    scripts: scriptsOf(m.manifest, runtime.length > 0),
    skipBlobs: f.fromBase,
    signal: ctx.signal,
    final,
    ...(tee ? { tee } : {}),
  };
  const index = indexOf(f.lock.artifacts);
  const made = await stageAndSwap(o, plan, index, extra, created);
  return {
    dir: plan.out,
    lockPath: f.lockPath,
    lockResolved: f.resolved,
    lock: f.lock,
    files: made.files,
    bytes: made.bytes,
    ...(f.baseRef ? { base: { name: f.baseRef.name, version: f.baseRef.version, blobs: f.baseRef.blobs.length } } : {}),
    ...(expires ? { expires } : {}),
    ...(made.parts !== undefined ? { parts: made.parts } : {}),
    ...(made.tar ? { tar: made.tar } : {}),
    ...(made.signer ? { signer: made.signer } : {}),
    fetch: f.tally,
    copies: made.copies,
    durationMs: Math.round(performance.now() - t0),
  };
}

/**
 * Everything that can be refused before anything is resolved or fetched: a signing key that cannot be used,
 * a probe of another box, and where the bundle goes (a build of an hour must not fail at its last step on a
 * read-only disk or a file in the way). A symlinked --out is followed (the folder is replaced where it really
 * is; the link stays). What an interrupted build left beside the output is swept.
 */
async function planBuild(o: BuildOptions, ctxFor: (m: LoadedManifest) => BuildCtx): Promise<Plan> {
  const m = await loadManifest(o.manifest);
  const signKey = o.signKey ? await readSigningKey(o.signKey, o.passphraseFile ? await readPassphrase(o.passphraseFile) : undefined) : undefined;
  const probe = o.target ? await targetProbe(o.target, m) : undefined;
  const media = o.media ?? 'dir';
  const out = await followLinks(o.out ?? `bundles/${m.manifest.name}`);
  const tarTo = o.tar ?? (media === 'tar' ? `${out}.tar` : undefined);
  await checkWritableFolderOf(out, '--out');
  await checkOutput(out);
  const tarTarget = tarTo ? await outputTarget(tarTo, '--tar') : undefined;
  if (tarTarget && !tarTarget.direct) await checkWritableFolderOf(tarTarget.path, '--tar');
  const tarDir = tarTarget && !tarTarget.direct ? tarTarget.path : undefined;
  const ctx = ctxFor(m);
  const swept = [...(await sweepStaleTemps(out)), ...(tarDir ? await sweepStaleTemps(tarDir) : [])];
  if (swept.length > 0) {
    ctx.report({ type: 'info', message: `removed what an interrupted build left: ${swept.map((p) => relative(process.cwd(), p) || p).join(', ')}` });
  }
  return { m, ...(signKey ? { signKey } : {}), ...(probe ? { probe } : {}), media, out, ...(tarTo ? { tarTo } : {}), ...(tarDir ? { tarDir } : {}), ctx };
}

/** The lock, the delta's base, the room, then every artifact the base lacks into the store, with the runtime. */
async function lockAndFetch(o: BuildOptions, { m, probe, media, out, tarDir, ctx }: Plan, tee: TeeFolder | undefined): Promise<Fetched> {
  ctx.report({ type: 'phase', phase: 'lock' });
  const { lock, path: lockPath, resolved } = await lockForBuild(m, { lockPath: o.lock, frozen: o.frozen, now: o.now, ...(probe ? { probe } : {}) }, ctx);
  // What resolving left (apt's universe of 67,000 stanzas: ~30 MB of heap, ~40 MB of arena buffers) is garbage
  // now, but the collection inside the resolve could not free it (still on its stack), and none comes by itself
  // during a fetch, which allocates little on the heap: without this it stays through the whole build.
  if (resolved) phaseDone();
  const base = o.base ? await readBase(o.base, m.manifest.name) : undefined;
  const fromBase = new Set(base ? lock.artifacts.filter((a) => base.digests.has(a.digest)).map((a) => a.digest) : []);
  const toFetch = lock.artifacts.filter((a) => !fromBase.has(a.digest));
  await checkBuildSpace(toFetch, ctx, out, media, tarDir);
  ctx.report({ type: 'phase', phase: 'fetch', detail: `${toFetch.length} artifacts${base ? ` (${fromBase.size} from the base)` : ''}` });
  // The carried runtime (hashing a 100 MB node, or fetching one from the registry) overlaps the downloads.
  const runtimeReady = prepareRuntime(o.runtime ?? 'none', m.manifest.target.arch, ctx);
  runtimeReady.catch(() => undefined); // marks it handled: its error is thrown where it is awaited below
  // The facts (apt licences) are read from each blob as soon as it is in the store, while the others download.
  const facts = factsAlongside(lock.artifacts, base?.artifacts, ctx, { manifest: m.manifest, fetched: toFetch });
  // A ranged download's whole-file hash runs on a worker thread, the workers shared by the downloads (hash-workers.ts).
  const hashers = new FileHashers(Math.max(1, Math.min(8, availableParallelism())));
  let tally: FetchTally;
  try {
    ({ tally } = await fetchTallied(
      toFetch,
      { ...ctx, report: facts.report },
      {
        concurrency: o.concurrency,
        ...(o.streams ? { streams: o.streams } : {}),
        sourceFor,
        // Not apt's debs: hundreds come at once from a mirror already, and ranging the big ones too added ~55 MiB
        // to the peak with no gain (bench:apt, nvidia-debian12: 232 MiB ranged, 177 MiB not; same time).
        ranged: (a) => a.kind !== 'apt' && /^https?:/.test(a.url),
        hashWhole: (path, size, signal) => hashers.hash(path, size, signal),
        // The single-stream downloads (apt's debs) are fetched, hashed and written on a thread (fetch/stream-threads.ts).
        streamThreads: streamThreadsFor(),
        ...(tee ? { tee } : {}),
      },
    ));
    facts.finish(true);
  } catch (err) {
    facts.finish(false);
    await Promise.all([runtimeReady.catch(() => undefined), facts.facts.catch(() => undefined)]); // let them finish (and clean up) first
    throw err;
  } finally {
    await hashers.close();
  }
  if (ctx.signal.aborted) throw new InterruptedError();
  const baseRef = base ? { name: base.name, version: base.version, index: base.indexDigest, blobs: [...fromBase].sort() } : undefined;
  return { lock, lockPath, resolved, fromBase, ...(baseRef ? { baseRef } : {}), artifacts: facts.facts, runtime: runtimeReady, tally };
}

type Extra = Parameters<typeof assembleBundle>[3];

/**
 * Everything, the signature and the tar included, is made beside `out`, and the folder is renamed in only at
 * the very end: `out` is always the old bundle or the whole new one, never an unsigned one, nor a new one
 * whose tar failed.
 */
async function stageAndSwap(o: BuildOptions, { m, signKey, media, out, tarTo, ctx }: Plan, index: BundleIndex, extra: Extra, created: string) {
  await checkOutput(out);
  const stage = tempSibling(out);
  const whole = tempSibling(out);
  let tar: StagedTar | undefined;
  try {
    let r: Pick<AssembleResult, 'bytes' | 'copied' | 'unchanged' | 'reused' | 'written' | 'placed'>;
    let parts: number | undefined;
    if (media === 'fat32') {
      r = await assembleBundle(index, ctx.store, whole, extra);
      if (ctx.signal.aborted) throw new InterruptedError();
      const partSize = o.partSize ?? FAT32_PART_SIZE;
      ctx.report({ type: 'phase', phase: 'split', detail: `parts of ${formatBytes(partSize)}` });
      const split = { name: m.manifest.name, version: m.manifest.version, partSize, mtime: new Date(created), signal: ctx.signal };
      parts = (await writeSplitBundle(whole, stage, split)).parts;
    } else {
      r = await assembleBundle(index, ctx.store, stage, { ...extra, reuseFrom: out });
    }
    // The same signing as `vault-bundle sign` (the bundle was just assembled from the checked store: no re-verify).
    if (signKey && ctx.signal.aborted) throw new InterruptedError();
    const signed = signKey ? await signBundle(stage, signKey, { now: o.now ?? new Date(), verify: false, report: ctx.report }) : undefined;
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
    if (media !== 'fat32') await recordPlaced(ctx.store.root, out, r.placed); // for the next build over it (store/placed.ts)
    return {
      files: listed,
      bytes: r.bytes,
      copies: { blobs: r.copied, unchanged: r.unchanged, reused: r.reused, written: r.written },
      ...(parts !== undefined ? { parts } : {}),
      ...(tar ? { tar: tar.path } : {}),
      ...(signed ? { signer: signed.signer } : {}),
    };
  } catch (err) {
    await tar?.discard();
    throw err;
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(whole, { recursive: true, force: true });
    tempDone(stage);
    tempDone(whole);
  }
}
