import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { BaseRef, BundleIndex } from '../bundle/index.js';
import { loadBundle } from '../bundle/load.js';
import type { BundleReader } from '../bundle/reader.js';
import { refuseDowngrade } from '../bundle/trust.js';
import { checkTarget } from '../probe/target.js';
import { venvOf } from '../sources/pip/install.js';
import { sources } from '../sources/registry.js';
import type { Locked, SourceKind } from '../sources/source.js';
import { defaultStateDir, isInstalled, journalPath, readJournal } from '../state/journal.js';
import { IntegrityError, TargetError, UsageError } from '../util/errors.js';
import type { InstallOptions } from './options.js';

/** What install settled before verifying: the bundle, its base, the kinds to install, the journal. */
export interface Preflight {
  location: string;
  stateDir: string;
  journal: string;
  reader: BundleReader;
  index: BundleIndex;
  /** sha256 (hex) of bundle.json as it is in the bundle (the stamp's bundle_digest). */
  indexSha256: string;
  basePath?: string;
  /** The kinds to install, in the registry's order, with their artifacts (kinds with none left out). */
  chosen: { s: (typeof sources)[number]; items: Locked[] }[];
  /** --ignore-target: the mismatches that were warned about. */
  ignoredTarget: string[];
}

/**
 * The checks before verify, none of which changes the box: flags, the bundle, its base, rollback, the box
 * against the bundle's target.
 */
export async function preflight(o: InstallOptions): Promise<Preflight> {
  const only = o.only ? parseOnly(o.only) : undefined;
  const location = resolve(o.bundle);
  const stateDir = o.stateDir ?? defaultStateDir();
  const journal = journalPath(stateDir);
  const { reader, index, indexSha256 } = await loadBundle(location);
  if (o.base && !index.base) {
    // Not an error (the field tech may always pass the base along), but never silently ignored.
    o.report({ type: 'warn', message: `--base ${o.base} is ignored: ${index.name} ${index.version} is a full bundle, not a delta`, subject: '--base' });
  }
  if (only) {
    const missing = only.filter((k) => !index.artifacts.some((a) => a.kind === k));
    if (missing.length > 0)
      o.report({
        type: 'warn',
        message: `--only ${missing.join(',')}: ${index.name} ${index.version} has no ${missing.join(' or ')} artifacts`,
        subject: '--only',
      });
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
  return { location, stateDir, journal, reader, index, indexSha256, ...(basePath ? { basePath } : {}), chosen, ignoredTarget };
}

/**
 * Refuses a box that is not the bundle's target (TARGET_MISMATCH) before anything is verified or changed;
 * with --ignore-target the mismatches are warnings, returned for the journal.
 */
export async function refuseOtherTarget(index: BundleIndex, chosen: { s: { kind: SourceKind }; items: Locked[] }[], o: InstallOptions): Promise<string[]> {
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
  const given = only
    .flatMap((k) => k.split(','))
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = given.filter((k) => !(kinds as string[]).includes(k));
  if (unknown.length > 0 || given.length === 0) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message:
        given.length === 0
          ? '--only needs at least one kind'
          : `--only: unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; the kinds are ${kinds.join(', ')}`,
      subject: '--only',
      hint: `give some of ${kinds.join(',')} (models are "hf", wheels are "pip", .deb packages are "apt"), e.g. --only apt,hf`,
    });
  }
  return given as SourceKind[];
}

/** Where this box last installed the base from (a real install, and the bundle is still there). */
export async function baseFromJournal(journal: string, base: BaseRef): Promise<string | undefined> {
  const entries = (await readJournal(journal)).filter((e) => isInstalled(e) && e.bundle.name === base.name && e.bundle.version === base.version).reverse();
  for (const e of entries)
    if (
      await stat(e.bundle.path).then(
        () => true,
        () => false,
      )
    )
      return e.bundle.path;
  return undefined;
}
