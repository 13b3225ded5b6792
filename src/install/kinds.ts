import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { extractJob, inPlace } from '../bundle/extract.js';
import type { BundleIndex } from '../bundle/index.js';
import { BLOBS_DIR, blobPath, isOsMetadata } from '../bundle/layout.js';
import type { BundleEntry, BundleReader } from '../bundle/reader.js';
import type { SignatureStatus } from '../bundle/signature.js';
import { writeKeyring } from '../bundle/trust.js';
import type { BoxCtx, Locked, PlannedChange, SourceKind } from '../sources/source.js';
import { checkJournalWritable } from '../state/journal.js';
import { hexOf } from '../store/digest.js';
import { InterruptedError, VaultError } from '../util/errors.js';
import { type SpaceCheck, type SpaceNeed, checkSpace } from '../util/space.js';
import type { InstallOptions, InstallResult } from './options.js';
import type { Preflight } from './preflight.js';

/** The hint of an interrupted install: nothing like build's download cache to resume from, but a rerun completes it. */
const RERUN_HINT = 'run the same install again: it skips what is already in place and completes the rest (the journal records where this run stopped)';

/** Where each artifact's blob is: its entry in the bundle or the base, and its path when a folder holds it whole. */
type Where = Map<string, { entry: BundleEntry; inPlace?: string }>;

export interface InstallRun {
  pre: Preflight;
  base?: BundleReader;
  signature: SignatureStatus;
  /**
   * The key files the bundle's signature was checked against (--key's, else the box trust policy's): the bundle's
   * apt repository (apt/InRelease, signed by the same release key) is given to apt with these as signed-by.
   */
  keyFiles?: readonly string[];
  workDir: string;
  /** Filled kind by kind: what the journal records, also when the run stops partway. */
  reports: InstallResult['reports'];
  /** Filled by the preflights: each kind's own tool's plan (apt's simulation), for history and the dry run's plan. */
  plans: Partial<Record<SourceKind, PlannedChange[]>>;
  /** Called once, after every check and preflight passed and before the first change (a real run only). */
  beforeChange?: () => Promise<unknown>;
  /** Appends a stopped run to the journal (a real run only). */
  stopped(failedAt: string | undefined, error: { code: string; message: string }): Promise<unknown>;
}

/**
 * Installs the chosen kinds from a verified bundle, in the scratch folder `workDir`: checks free space first
 * (for a dry run it only reports it), then extracts each kind's blobs just before its install (a folder's are
 * read in place) and removes them after it. Returns the space checked.
 */
export async function installKinds(o: InstallOptions, run: InstallRun): Promise<SpaceCheck[]> {
  const { pre, workDir } = run;
  const where = locateBlobs(pre.index, pre.reader, run.base);
  const staged = join(workDir, 'blobs');
  const ctx: BoxCtx = {
    bundleDir: await smallFilesDir(pre.reader, pre.location, workDir),
    blobPath: (item) => where.get(item.digest)?.inPlace ?? join(staged, hexOf(item.digest)),
    workDir,
    stateDir: pre.stateDir,
    dryRun: o.dryRun,
    ...(o.takePulled && !o.dryRun && !o.keepBlobs ? { take: takeable(pre.index.artifacts, where) } : {}),
    options: { ...(o.flat ? { flat: resolve(o.flat) } : {}), ...(o.profile ? { profile: resolve(o.profile) } : {}) },
    ...(run.keyFiles?.length && run.signature.status === 'valid' ? { signedBy: await writeKeyring(run.keyFiles, join(workDir, 'signed-by.gpg')) } : {}),
    exec: o.exec,
    report: o.report,
    signal: o.signal,
  };
  const toExtract = (items: readonly Locked[]) => items.filter((a) => !where.get(a.digest)?.inPlace);
  const needs: SpaceNeed[] = [];
  for (const { s, items } of pre.chosen) if (s.space) needs.push(...(await s.space(items, ctx)));
  const largestStage = Math.max(0, ...pre.chosen.map(({ items }) => toExtract(items).reduce((n, a) => n + a.size, 0)));
  needs.push({ path: staged, bytes: largestStage, what: 'blobs extracted from the tar or parts (one kind at a time)' });
  const space = await checkSpace(needs, { throw: !o.dryRun });
  if (!o.dryRun) await checkJournalWritable(pre.stateDir, true);
  let current: string | undefined;
  try {
    // Nothing is written before each kind's own tool said yes (apt's simulation of the whole apt step).
    for (const { s, items } of pre.chosen) {
      current = s.kind;
      const plan = s.preflight ? await s.preflight(items, ctx) : undefined;
      if (plan) run.plans[s.kind] = plan;
    }
    current = undefined;
    if (!o.dryRun) await run.beforeChange?.();
    for (const { s, items } of pre.chosen) {
      if (o.signal.aborted) throw new InterruptedError(RERUN_HINT);
      current = s.kind;
      o.report({ type: 'phase', phase: `install ${s.kind}`, detail: `${items.length} artifacts` });
      const t = performance.now();
      const extract = toExtract(items);
      for (const a of extract) await extractJob(where.get(a.digest)!.entry.job, join(staged, hexOf(a.digest))).catch(ignoreExisting);
      try {
        const r = await s.install(items, ctx);
        run.reports.push({ ...r, ms: Math.round(performance.now() - t) });
      } finally {
        for (const a of extract) await rm(join(staged, hexOf(a.digest)), { force: true });
      }
    }
  } catch (err) {
    // Ctrl-C reaches apt-get and pip too, which then fail: the cause is the interrupt, and a rerun is the remedy.
    const e = o.signal.aborted && !(err instanceof InterruptedError) ? new InterruptedError(RERUN_HINT) : err;
    // The box may now hold part of the bundle: the journal says which kinds were done and where it stopped.
    if (!o.dryRun) await run.stopped(current, errorOf(e)).catch(() => undefined);
    throw e;
  }
  return space;
}

/** Each artifact's blob in the bundle, else in the base; folder readers list whole files, read in place. */
function locateBlobs(index: BundleIndex, reader: BundleReader, base: BundleReader | undefined): Where {
  const where: Where = new Map();
  const sizes = new Map<string, number>();
  const fileSize = (f: string) => sizes.get(f);
  for (const r of [reader, base]) {
    for (const e of r?.entries.values() ?? []) if (e.job.segments.length === 1 && e.job.segments[0]!.offset === 0) sizes.set(e.job.segments[0]!.file, e.size);
  }
  // Anything else (tar members, parts) is extracted when its kind installs.
  const isFolder = (r: BundleReader) => r.form === 'dir';
  for (const a of index.artifacts) {
    const p = blobPath(hexOf(a.digest));
    const r = reader.entries.has(p) ? reader : base!;
    const entry = r.entries.get(p)!;
    where.set(a.digest, { entry, ...(isFolder(r) ? { inPlace: inPlace(entry.job, fileSize) } : {}) });
  }
  return where;
}

/**
 * The bundle's small files (pip's requirements.lock, the signed apt index) in a folder: the bundle itself
 * when they all lie there as files (a folder; a split folder as build writes it), else extracted.
 * Never the OS metadata verify ignored (unlisted: nothing may read it); every other file here was listed.
 */
async function smallFilesDir(reader: BundleReader, location: string, workDir: string): Promise<string> {
  const small = [...reader.entries.values()].filter(
    (e) => e.kind === 'file' && !e.path.startsWith(`${BLOBS_DIR}/`) && !e.path.startsWith('runtime/') && !isOsMetadata(e.path),
  );
  const loose = (e: BundleEntry) => e.job.segments.length === 1 && e.job.segments[0]!.file === join(location, e.path) && e.job.segments[0]!.offset === 0;
  if (reader.form !== 'tar' && small.every(loose)) return location;
  const bundleDir = join(workDir, 'bundle');
  for (const e of small) await extractJob(e.job, join(bundleDir, e.path));
  return bundleDir;
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof VaultError) return { code: err.code as string, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}

/** The pulled bundle's blobs that one artifact alone uses and that lie whole in its folder: install may move them. */
function takeable(artifacts: readonly Locked[], where: Where): (item: Locked) => boolean {
  const uses = new Map<string, number>();
  for (const a of artifacts) uses.set(a.digest, (uses.get(a.digest) ?? 0) + 1);
  return (item) => uses.get(item.digest) === 1 && where.get(item.digest)?.inPlace !== undefined;
}
