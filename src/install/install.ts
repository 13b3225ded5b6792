import type { BundleIndex } from '../bundle/index.js';
import { type BundleReader, openBundle } from '../bundle/reader.js';
import { trustError } from '../bundle/trust.js';
import { DEFAULT_TRUST_DIR, loadTrustPolicy } from '../state/trust-policy.js';
import { verifyBundle, verifyError } from '../bundle/verify.js';
import { DEFAULT_KEEP_HISTORY, listHistory, pruneHistory, recordHistory } from '../history/record.js';
import { installPlan } from '../history/install-plan.js';
import { keepBlobs, pruneKept } from '../history/kept.js';
import { makeStamp } from '../history/stamp.js';
import { defaultImageVersion, type ImageVersion, readImageVersion, writeImageVersion } from '../state/image-version.js';
import { appendJournal, checkJournalWritable } from '../state/journal.js';
import { formatBytes } from '../util/format.js';
import { withTempDir } from '../util/fs.js';
import type { SpaceCheck } from '../util/space.js';
import type { PlannedChange } from '../sources/source.js';
import { type InstallRun, installKinds } from './kinds.js';
import type { InstallOptions, InstallResult } from './options.js';
import { type Preflight, preflight } from './preflight.js';

export type { InstallOptions, InstallResult } from './options.js';
export { parseOnly } from './preflight.js';

/**
 * Verifies the bundle (a folder, a tar or a split folder; a delta with its base) and refuses one that fails,
 * checks free space, then installs its artifacts kind by kind in the registry's order (file, apt, pip, hf).
 * A tar or split bundle is read in place: each kind's blobs are extracted just before its install and removed
 * after it, so the box never needs room for the whole bundle twice.
 *
 * Nothing changes on the box until every check passed: flags, the bundle, rollback, the box against the
 * bundle's target, that the journal can be written, verify, free space. A real run is appended to the journal,
 * a run that stops partway too (with what it had done); a dry run writes nothing but scratch files in TMPDIR.
 */
export async function installBundle(o: InstallOptions): Promise<InstallResult> {
  const pre = await preflight(o);
  const { location, index, basePath, stateDir } = pre;
  await checkJournalWritable(stateDir, false);
  const { v, signed, keyFiles } = await verifyForInstall(o, location, index, basePath);
  const base = basePath ? await openBundle(basePath) : undefined;
  const reports: InstallResult['reports'] = [];
  // What the journal records of a real run: finished, or stopped partway with what was done by then.
  const entryOf = (ok: boolean) => ({
    time: new Date().toISOString(),
    bundle: { name: index.name, version: index.version, path: location },
    ...(index.base ? { base: { name: index.base.name, version: index.base.version, ...(basePath ? { path: basePath } : {}) } } : {}),
    dryRun: false,
    ok,
    ...(v.signature.status === 'valid' ? { signer: v.signature.signer } : {}),
    signature: signed ? ('signed' as const) : ('unsigned' as const),
    ...(pre.ignoredTarget.length > 0 ? { ignoredTarget: pre.ignoredTarget } : {}),
    results: reports.map(({ detail: _d, ...r }) => r),
  });
  const plans: InstallRun['plans'] = {};
  const space: SpaceCheck[] = await withTempDir('vault-install', (workDir) => {
    const run: InstallRun = {
      pre,
      ...(base ? { base } : {}),
      signature: v.signature,
      ...(keyFiles ? { keyFiles } : {}),
      workDir,
      reports,
      plans,
      beforeChange: () => keepHistory(o, pre, plans.apt),
      stopped: (failedAt, error) => appendJournal(stateDir, { ...entryOf(false), failedAt, error }),
    };
    return installKinds(o, run);
  });
  const stamp = o.dryRun ? undefined : await completeInstall(o, pre, base, v.signature, () => appendJournal(stateDir, entryOf(true)));
  const stampFile = o.imageVersion ?? defaultImageVersion(stateDir);
  const plan = o.dryRun
    ? await installPlan(index, { ...(plans.apt ? { aptPlan: plans.apt } : {}), exec: o.exec, stampFile, ...(o.only ? { only: o.only } : {}) })
    : undefined;
  return {
    bundle: location,
    name: index.name,
    version: index.version,
    dryRun: o.dryRun,
    reports,
    ...(o.dryRun ? {} : { journal: pre.journal }),
    ...(stamp ? { stamp } : {}),
    ...(plan ? { plan: { ...plan, title: `dry run: ${plan.title}` } } : {}),
    verifyMs: v.durationMs,
    signature: v.signature,
    space,
  };
}

/** Verify before anything changes (the trust policy decides what an unsigned bundle gets: a warning or a refusal). */
async function verifyForInstall(o: InstallOptions, location: string, index: BundleIndex, basePath: string | undefined) {
  o.report({ type: 'phase', phase: 'verify' });
  const v = await verifyBundle(location, {
    ...(basePath ? { base: basePath } : {}),
    ...(o.key ? { key: o.key } : {}),
    ...(o.requireSignature ? { requireSignature: true } : {}),
    ...(o.allowExpired ? { allowExpired: true } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.hashed ? { hashed: o.hashed } : {}),
    signal: o.signal,
    report: o.report,
  });
  if (!v.ok) throw trustError(v) ?? verifyError(v);
  // The end of the checks ./verify makes: the fleet role reads it as its verify step (install is that step too).
  o.report({ type: 'phase', phase: 'verified', detail: `${v.files} files, ${formatBytes(v.bytes)} in ${(v.durationMs / 1000).toFixed(2)} s` });
  const signed = v.signature.status === 'valid';
  if (!signed) {
    o.report({
      type: 'warn',
      message: `${index.name} ${index.version} is not signed by a release key this box trusts: its integrity was checked (every file against SHA256SUMS), its origin was not; give --key <release key>, or set the box trust policy in ${v.policy?.root ?? DEFAULT_TRUST_DIR} (release keys and policy.yaml "require-signature: true")`,
    });
  }
  // The keys the signature was checked against also sign the bundle's apt repository: apt checks it with them.
  const keyFiles: string[] | undefined = !signed ? undefined : o.key ? [o.key] : v.policy ? (await loadTrustPolicy(v.policy.root))?.keyFiles : undefined;
  return { v, signed, keyFiles };
}

/** A complete install: journalled, then the box stamped, then (with --keep-blobs) the bundle kept for a rollback. */
async function completeInstall(
  o: InstallOptions,
  pre: Preflight,
  base: BundleReader | undefined,
  signature: InstallResult['signature'],
  journal: () => Promise<unknown>,
): Promise<ImageVersion | undefined> {
  const { stateDir, index } = pre;
  await journal();
  const stamp = await stampBox(o, pre, signature);
  // The install is complete and journalled: a copy that cannot be kept (a full disk) is warned about, never a failed install.
  if (o.keepBlobs)
    await keepBlobs(stateDir, pre.indexSha256, index, base ? [pre.reader, base] : [pre.reader]).catch((e: unknown) =>
      o.report({
        type: 'warn',
        message: `--keep-blobs: could not keep ${index.name} ${index.version} in ${stateDir}/kept (${e instanceof Error ? e.message : String(e)}); a rollback to it will need the bundle itself`,
        subject: '--keep-blobs',
      }),
    );
  await pruneKept(stateDir, await listHistory(stateDir));
  return stamp;
}

/**
 * Stamps the box with the bundle it now runs, after the journal recorded the complete install. An install of
 * some kinds only (--only) is not the bundle: the stamp stays what it was, and the field tech is told.
 */
async function stampBox(
  o: InstallOptions,
  pre: Awaited<ReturnType<typeof preflight>>,
  signature: InstallResult['signature'],
): Promise<ImageVersion | undefined> {
  const file = o.imageVersion ?? defaultImageVersion(pre.stateDir);
  if (o.only) {
    o.report({ type: 'warn', message: `--only installs part of ${pre.index.name} ${pre.index.version}: ${file} is left as it was`, subject: file });
    return undefined;
  }
  const previous = await readImageVersion(file);
  const stamp = makeStamp({ index: pre.index, indexSha256: pre.indexSha256, signature, ...(previous ? { previous } : {}), installedAt: o.now ?? new Date() });
  await writeImageVersion(file, stamp);
  return stamp;
}

/**
 * Records what this install is about to replace (history/), then keeps the newest --keep-history records. A
 * rerun of the bundle the last record names (completing a stopped run, or a no-op) keeps that record: its
 * "before" is the box before the first try.
 */
async function keepHistory(o: InstallOptions, pre: Awaited<ReturnType<typeof preflight>>, aptPlan: readonly PlannedChange[] | undefined): Promise<void> {
  const last = (await listHistory(pre.stateDir)).at(-1);
  if (last?.bundle.digest !== `sha256:${pre.indexSha256}`) {
    await recordHistory({
      stateDir: pre.stateDir,
      index: pre.index,
      location: pre.location,
      indexSha256: pre.indexSha256,
      stampFile: o.imageVersion ?? defaultImageVersion(pre.stateDir),
      ...(aptPlan ? { aptPlan } : {}),
      exec: o.exec,
    });
  }
  await pruneHistory(pre.stateDir, o.keepHistory ?? DEFAULT_KEEP_HISTORY);
}
