import { openBundle } from '../bundle/reader.js';
import { trustError } from '../bundle/trust.js';
import { DEFAULT_TRUST_DIR } from '../state/trust-policy.js';
import { verifyBundle, verifyError } from '../bundle/verify.js';
import { appendJournal, checkJournalWritable } from '../state/journal.js';
import { withTempDir } from '../util/fs.js';
import type { SpaceCheck } from '../util/space.js';
import { type InstallRun, installKinds } from './kinds.js';
import type { InstallOptions, InstallResult } from './options.js';
import { preflight } from './preflight.js';

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
  o.report({ type: 'phase', phase: 'verify' });
  const v = await verifyBundle(location, {
    ...(basePath ? { base: basePath } : {}),
    ...(o.key ? { key: o.key } : {}),
    ...(o.requireSignature ? { requireSignature: true } : {}),
    ...(o.allowExpired ? { allowExpired: true } : {}),
    ...(o.now ? { now: o.now } : {}),
    signal: o.signal,
  });
  if (!v.ok) throw trustError(v) ?? verifyError(v);
  const signed = v.signature.status === 'valid';
  if (!signed) {
    o.report({
      type: 'warn',
      message: `${index.name} ${index.version} is not signed by a release key this box trusts: its integrity was checked (every file against SHA256SUMS), its origin was not; give --key <release key>, or set the box trust policy in ${v.policy?.root ?? DEFAULT_TRUST_DIR} (release keys and policy.yaml "require-signature: true")`,
    });
  }
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
  const space: SpaceCheck[] = await withTempDir('vault-install', (workDir) => {
    const run: InstallRun = {
      pre,
      ...(base ? { base } : {}),
      signature: v.signature,
      workDir,
      reports,
      stopped: (failedAt, error) => appendJournal(stateDir, { ...entryOf(false), failedAt, error }),
    };
    return installKinds(o, run);
  });
  if (!o.dryRun) await appendJournal(stateDir, entryOf(true));
  return {
    bundle: location,
    name: index.name,
    version: index.version,
    dryRun: o.dryRun,
    reports,
    ...(o.dryRun ? {} : { journal: pre.journal }),
    verifyMs: v.durationMs,
    signature: v.signature,
    space,
  };
}
