import { appendJournal, checkJournalWritable, defaultStateDir, isInstalled, journalPath, readJournal } from '../state/journal.js';
import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { extractJob, inPlace } from '../bundle/extract.js';
import type { BaseRef, BundleIndex } from '../bundle/index.js';
import { BLOBS_DIR, blobPath, isOsMetadata } from '../bundle/layout.js';
import { loadBundle } from '../bundle/load.js';
import { type BundleEntry, type BundleReader, openBundle } from '../bundle/reader.js';
import { type SignatureStatus, binaryKeyring, readVerifyKeys } from '../bundle/signature.js';
import { type VerifyReport, verifyBundle, verifyError } from '../bundle/verify.js';
import { checkTarget } from '../probe/target.js';
import { venvOf } from '../sources/pip/install.js';
import { sources } from '../sources/registry.js';
import type { BoxCtx, Exec, InstallReport, Locked, SourceKind } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import type { Reporter } from '../util/events.js';
import { IntegrityError, InterruptedError, TargetError, UsageError, VaultError } from '../util/errors.js';
import { withTempDir, writeFileAtomic } from '../util/fs.js';
import { type SpaceCheck, type SpaceNeed, checkSpace } from '../util/space.js';

export interface InstallOptions {
  bundle: string;
  dryRun: boolean;
  stateDir?: string;
  only?: string[];
  /** Also write every model's files as real files under this folder (tools that do not follow symlinks). */
  flat?: string;
  /** Where hf writes the login snippet with HF_HOME and the offline switches (default /etc/profile.d/vault-ai-models.sh). */
  profile?: string;
  /** A delta's base bundle; default: where the journal says that bundle was installed from. */
  base?: string;
  /**
   * Release public key: SHA256SUMS.asc must be present and verify against it (never a fallback to trusted=yes),
   * and apt checks the bundle's signed InRelease with it.
   */
  key?: string;
  /** Kept for compatibility: a key already requires a signature. */
  requireSignature?: boolean;
  /** Install even when this box has a newer version of the same bundle installed (a deliberate rollback). */
  allowDowngrade?: boolean;
  /** Install a bundle past its `expires` date. */
  allowExpired?: boolean;
  /** Install on a box that is not the bundle's target (OS, architecture, Python): the mismatches become warnings. */
  ignoreTarget?: boolean;
  /** /etc/os-release unless a test points at another box's. */
  osRelease?: string;
  /** Clock for the signature and expiry checks (tests pin it). */
  now?: Date;
  exec: Exec;
  report: Reporter;
  signal: AbortSignal;
}

export interface InstallResult {
  bundle: string;
  name: string;
  version: string;
  dryRun: boolean;
  reports: (InstallReport & { ms: number })[];
  /** The journal this run was appended to (a dry run writes none). */
  journal?: string;
  /** Free space checked per filesystem before anything was written. */
  space?: SpaceCheck[];
  /** Time spent verifying (and, for a delta, checking its base) before installing. */
  verifyMs: number;
  /** What verify found about the bundle's signature (valid only with --key). */
  signature: SignatureStatus;
}

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
export async function installCommand(o: InstallOptions): Promise<InstallResult> {
  const only = o.only ? parseOnly(o.only) : undefined;
  const location = resolve(o.bundle);
  const stateDir = o.stateDir ?? defaultStateDir();
  const journal = journalPath(stateDir);
  const { reader, index } = await loadBundle(location);
  if (o.base && !index.base) {
    // Not an error (the field tech may always pass the base along), but never silently ignored.
    o.report({ type: 'warn', message: `--base ${o.base} is ignored: ${index.name} ${index.version} is a full bundle, not a delta`, subject: '--base' });
  }
  if (only) {
    const missing = only.filter((k) => !index.artifacts.some((a) => a.kind === k));
    if (missing.length > 0) o.report({ type: 'warn', message: `--only ${missing.join(',')}: ${index.name} ${index.version} has no ${missing.join(' or ')} artifacts`, subject: '--only' });
  }
  const basePath = index.base ? (o.base ?? (await baseFromJournal(journal, index.base))) : undefined;
  if (index.base && !basePath) {
    throw new IntegrityError({
      code: 'BASE_REQUIRED',
      message: `${o.bundle} is a delta over ${index.base.name} ${index.base.version}; ${index.base.blobs.length} blobs are in that base, which this box's journal does not locate`,
      subject: o.bundle,
      hint: `give the base bundle with --base <folder, tar or split folder of ${index.base.name} ${index.base.version}>`,
    });
  }
  if (!o.allowDowngrade) await refuseDowngrade(journal, index);
  const chosen = sources
    .filter((s) => !only || only.includes(s.kind))
    .map((s) => ({ s, items: index.artifacts.filter((a) => a.kind === s.kind) }))
    .filter((k) => k.items.length > 0);
  const ignoredTarget = await refuseOtherTarget(index, chosen, o);
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
  const base = basePath ? await openBundle(basePath) : undefined;
  const reports: InstallResult['reports'] = [];
  let space: SpaceCheck[] | undefined;
  // What the journal records of a real run: finished, or stopped partway with what was done by then.
  const entryOf = (ok: boolean) => ({
    time: new Date().toISOString(),
    bundle: { name: index.name, version: index.version, path: location },
    ...(index.base ? { base: { name: index.base.name, version: index.base.version, ...(basePath ? { path: basePath } : {}) } } : {}),
    dryRun: false,
    ok,
    ...(v.signature.status === 'valid' ? { signer: v.signature.signer } : {}),
    ...(ignoredTarget.length > 0 ? { ignoredTarget } : {}),
    results: reports.map(({ detail: _d, ...r }) => r),
  });
  await withTempDir('vault-install', async (workDir) => {
    const where = new Map<string, { entry: BundleEntry; inPlace?: string }>();
    const sizes = new Map<string, number>();
    const fileSize = (f: string) => sizes.get(f);
    for (const r of [reader, base]) {
      for (const e of r?.entries.values() ?? []) if (e.job.segments.length === 1 && e.job.segments[0]!.offset === 0) sizes.set(e.job.segments[0]!.file, e.size);
    }
    // Folder readers list whole files; anything else (tar members, parts) is extracted when its kind installs.
    const isFolder = (r: BundleReader) => r.form === 'dir';
    for (const a of index.artifacts) {
      const p = blobPath(hexOf(a.digest));
      const r = reader.entries.has(p) ? reader : base!;
      const entry = r.entries.get(p)!;
      where.set(a.digest, { entry, ...(isFolder(r) ? { inPlace: inPlace(entry.job, fileSize) } : {}) });
    }
    // The bundle's small files (pip's requirements.lock, the signed apt index) in a folder: the bundle itself
    // when they all lie there as files (a folder; a split folder as build writes it), else extracted.
    // Never the OS metadata verify ignored (unlisted: nothing may read it); every other file here was listed.
    const small = [...reader.entries.values()].filter((e) => e.kind === 'file' && !e.path.startsWith(`${BLOBS_DIR}/`) && !e.path.startsWith('runtime/') && !isOsMetadata(e.path));
    const loose = (e: BundleEntry) => e.job.segments.length === 1 && e.job.segments[0]!.file === join(location, e.path) && e.job.segments[0]!.offset === 0;
    let bundleDir = location;
    if (reader.form === 'tar' || !small.every(loose)) {
      bundleDir = join(workDir, 'bundle');
      for (const e of small) await extractJob(e.job, join(bundleDir, e.path));
    }
    const staged = join(workDir, 'blobs');
    const ctx: BoxCtx = {
      bundleDir,
      blobPath: (item) => where.get(item.digest)?.inPlace ?? join(staged, hexOf(item.digest)),
      workDir,
      stateDir,
      dryRun: o.dryRun,
      options: { ...(o.flat ? { flat: resolve(o.flat) } : {}), ...(o.profile ? { profile: resolve(o.profile) } : {}) },
      ...(o.key && v.signature.status === 'valid' ? { signedBy: await writeKeyring(o.key, join(workDir, 'signed-by.gpg')) } : {}),
      exec: o.exec,
      report: o.report,
      signal: o.signal,
    };
    const toExtract = (items: readonly Locked[]) => items.filter((a) => !where.get(a.digest)?.inPlace);
    const needs: SpaceNeed[] = [];
    for (const { s, items } of chosen) if (s.space) needs.push(...(await s.space(items, ctx)));
    const largestStage = Math.max(0, ...chosen.map(({ items }) => toExtract(items).reduce((n, a) => n + a.size, 0)));
    needs.push({ path: staged, bytes: largestStage, what: 'blobs extracted from the tar or parts (one kind at a time)' });
    space = await checkSpace(needs, { throw: !o.dryRun });
    if (!o.dryRun) await checkJournalWritable(stateDir, true);
    let current: string | undefined;
    try {
      // Nothing is written before each kind's own tool said yes (apt's simulation of the whole apt step).
      for (const { s, items } of chosen) {
        current = s.kind;
        if (s.preflight) await s.preflight(items, ctx);
      }
      for (const { s, items } of chosen) {
        if (o.signal.aborted) throw new InterruptedError(RERUN_HINT);
        current = s.kind;
        o.report({ type: 'phase', phase: `install ${s.kind}`, detail: `${items.length} artifacts` });
        const t = performance.now();
        const extract = toExtract(items);
        for (const a of extract) await extractJob(where.get(a.digest)!.entry.job, join(staged, hexOf(a.digest))).catch(ignoreExisting);
        try {
          const r = await s.install(items, ctx);
          reports.push({ ...r, ms: Math.round(performance.now() - t) });
        } finally {
          for (const a of extract) await rm(join(staged, hexOf(a.digest)), { force: true });
        }
      }
    } catch (err) {
      // Ctrl-C reaches apt-get and pip too, which then fail: the cause is the interrupt, and a rerun is the remedy.
      const e = o.signal.aborted && !(err instanceof InterruptedError) ? new InterruptedError(RERUN_HINT) : err;
      // The box may now hold part of the bundle: the journal says which kinds were done and where it stopped.
      if (!o.dryRun) await appendJournal(stateDir, { ...entryOf(false), failedAt: current, error: errorOf(e) }).catch(() => undefined);
      throw e;
    }
  });
  if (!o.dryRun) await appendJournal(stateDir, entryOf(true));
  return {
    bundle: location,
    name: index.name,
    version: index.version,
    dryRun: o.dryRun,
    reports,
    ...(o.dryRun ? {} : { journal }),
    verifyMs: v.durationMs,
    signature: v.signature,
    ...(space ? { space } : {}),
  };
}

/** The hint of an interrupted install: nothing like build's download cache to resume from, but a rerun completes it. */
const RERUN_HINT = 'run the same install again: it skips what is already in place and completes the rest (the journal records where this run stopped)';

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof VaultError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Refuses a box that is not the bundle's target (TARGET_MISMATCH) before anything is verified or changed;
 * with --ignore-target the mismatches are warnings, returned for the journal.
 */
async function refuseOtherTarget(index: BundleIndex, chosen: { s: { kind: SourceKind }; items: Locked[] }[], o: InstallOptions): Promise<string[]> {
  const wheels = chosen.find((k) => k.s.kind === 'pip')?.items;
  const apt = chosen.find((k) => k.s.kind === 'apt')?.items ?? [];
  const py = index.target.python;
  const check = await checkTarget(index.target, {
    exec: o.exec,
    ...(o.osRelease ? { osRelease: o.osRelease } : {}),
    ...(wheels ? { pip: { venv: venvOf(wheels), pythonFromApt: apt.some((a) => a.name === 'python3' || a.name === `python${py}`) } } : {}),
  });
  for (const n of check.notes) o.report({ type: 'warn', message: `target not checked: ${n}`, subject: 'target' });
  if (check.mismatches.length === 0) return [];
  const what = `${index.target.os} ${index.target.arch}${py ? ` Python ${py}` : ''}`;
  if (o.ignoreTarget) {
    for (const m of check.mismatches) o.report({ type: 'warn', message: `--ignore-target: ${m}`, subject: 'target' });
    return check.mismatches;
  }
  throw new TargetError({
    code: 'TARGET_MISMATCH',
    message: `${index.name} ${index.version} is built for ${what}, not for this box:\n  ${check.mismatches.join('\n  ')}`,
    subject: 'target',
    hint: 'nothing was changed. Install the bundle built for this box (./vault-bundle probe --out ../box.json here, then build --target box.json); to install this one anyway, knowing it may fail partway, add --ignore-target',
  });
}

/**
 * `--only` as kinds. A misspelt kind used to install less and exit 0 (`--only apt,models` installed apt
 * alone): every name must be a kind of the registry.
 */
export function parseOnly(only: readonly string[]): SourceKind[] {
  const kinds = sources.map((s) => s.kind);
  const given = only.flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
  const unknown = given.filter((k) => !(kinds as string[]).includes(k));
  if (unknown.length > 0 || given.length === 0) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: given.length === 0 ? '--only needs at least one kind' : `--only: unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; the kinds are ${kinds.join(', ')}`,
      subject: '--only',
      hint: `give some of ${kinds.join(',')} (models are "hf", wheels are "pip", .deb packages are "apt"), e.g. --only apt,hf`,
    });
  }
  return given as SourceKind[];
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}

/** Where this box last installed the base from (a real install, and the bundle is still there). */
async function baseFromJournal(journal: string, base: BaseRef): Promise<string | undefined> {
  const entries = (await readJournal(journal)).filter((e) => isInstalled(e) && e.bundle.name === base.name && e.bundle.version === base.version).reverse();
  for (const e of entries) if (await stat(e.bundle.path).then(() => true, () => false)) return e.bundle.path;
  return undefined;
}

/** A failed signature or expiry gets its own code (SIGNATURE_INVALID, UNSIGNED, EXPIRED): the remedy differs from a damaged copy. */
function trustError(v: VerifyReport): IntegrityError | undefined {
  const p = v.problems.find((x) => x.code === 'SIGNATURE_INVALID' || x.code === 'UNSIGNED' || x.code === 'EXPIRED');
  if (!p) return undefined;
  const code = p.code as 'SIGNATURE_INVALID' | 'UNSIGNED' | 'EXPIRED';
  const hint = {
    SIGNATURE_INVALID: 'do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again',
    UNSIGNED: 'get the signed bundle from the release engineer (vault-bundle sign <bundle> --key <secret key>)',
    EXPIRED: 'ask the release engineer for a current bundle; to install this one knowingly, add --allow-expired',
  }[code];
  return new IntegrityError({
    code,
    message: `${v.bundle}: ${p.message}`,
    subject: p.path,
    hint,
    ...(p.expected ? { expected: p.expected } : {}),
    ...(p.found ? { found: p.found } : {}),
  });
}

/** The public key as a binary keyring in the work folder: what apt's signed-by reads in every version. */
async function writeKeyring(keyFile: string, to: string): Promise<string> {
  await writeFileAtomic(to, binaryKeyring(await readVerifyKeys(keyFile)));
  return to;
}

/**
 * Rollback protection: the highest version of this bundle name that this box installed (real installs in the
 * journal) must not be newer than the one offered. The same version again is fine (install is idempotent).
 */
async function refuseDowngrade(journal: string, index: BundleIndex): Promise<void> {
  const installed = (await readJournal(journal))
    .filter((e) => isInstalled(e) && e.bundle.name === index.name && parseSemver(e.bundle.version))
    .map((e) => e.bundle.version)
    .sort(compareSemver)
    .at(-1);
  if (installed && parseSemver(index.version) && compareSemver(index.version, installed) < 0) {
    throw new IntegrityError({
      code: 'DOWNGRADE',
      message: `${index.name} ${index.version} is older than ${index.name} ${installed}, which this box has installed (journal ${journal})`,
      subject: index.name,
      expected: `>= ${installed}`,
      found: index.version,
      hint: 'install the current bundle; to roll back on purpose, add --allow-downgrade',
    });
  }
}

interface Semver {
  core: [number, number, number];
  pre: string[];
}

/** SemVer 2.0.0 §2, §9, §10: MAJOR.MINOR.PATCH, optional -pre-release, optional +build (ignored for precedence). */
export function parseSemver(v: string): Semver | undefined {
  const m = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

/** SemVer 2.0.0 §11 precedence: negative when a < b. Versions that do not parse compare as equal. */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return 0;
  for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i]! - y.core[i]!;
  // A pre-release has lower precedence than the release itself.
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i]!;
    const q = y.pre[i]!;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1; // numeric identifiers sort before alphanumeric ones
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}
