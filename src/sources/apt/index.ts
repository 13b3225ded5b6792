import { createReadStream } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { openUrl } from '../../fetch/open.js';
import { digestOf } from '../../store/digest.js';
import { ManifestError, UpstreamError } from '../../util/errors.js';
import { phaseDone } from '../../util/gc.js';
import { Spill } from '../../util/spill.js';
import type { BuildCtx, Locked, Source } from '../source.js';
import { PACKAGE_FIELDS, readStanzas } from './deb822.js';
import { type AptPackageRecord, parseStatus, toPackageRecord } from './records.js';
import { type FetchedIndex, fetchIndexes, readIndex } from './indexes.js';
import { aptSpace, installApt } from './install.js';
import { aptLicences } from './licence.js';
import { checkApt } from './simulate.js';
import { expandSources } from './repos.js';
import { ClosureError, type IdMemo, resolveClosure } from './resolve/index.js';
import { type AptSpec, aptSchema } from './schema.js';
import { Universe } from './universe.js';
import { idsKey, loadIds, loadSegment, saveIds, saveSegment } from './universe-cache.js';
import type { InstalledRecord, PackageRecord, ResolveResult } from './types.js';

/** Locked.meta keys that carry the control fields the box's local repository index needs. */
export const CONTROL_META: Record<string, keyof AptPackageRecord> = {
  'Multi-Arch': 'multiArch',
  Priority: 'priority',
  Section: 'section',
  Source: 'source',
  'Pre-Depends': 'preDepends',
  Depends: 'depends',
  Recommends: 'recommends',
  Provides: 'provides',
  Conflicts: 'conflicts',
  Breaks: 'breaks',
  // apt's version hash covers Suggests and Replaces too: without them the bundle's index names another build
  // of the same version, and every install "upgrades" it again.
  Suggests: 'suggests',
  Replaces: 'replaces',
  Enhances: 'enhances',
  Homepage: 'homepage',
};

export const aptSource: Source<AptSpec> = {
  kind: 'apt',
  section: 'apt',
  schema: aptSchema,

  async resolve(spec, ctx) {
    const repos = await expandSources(spec, ctx.baseDir);
    const architectures = spec.architectures ?? [ctx.target.arch];
    const indexes = await fetchIndexes(repos, architectures, ctx);
    const result = await closureOf(spec, ctx, indexes, architectures);
    phaseDone(); // the universe and the resolver's tables are garbage now: the fetch starts from a small heap
    const idOf = (p: PackageRecord) => `apt:${p.package}@${p.version}:${p.architecture}`;
    const byKey = new Map(result.packages.map((p) => [`${p.package}:${p.architecture}`, p]));
    const dependents = new Map<string, string[]>();
    for (const [key, w] of result.why) {
      if (w.field === 'request') continue;
      const parent = byKey.get(w.by);
      const child = byKey.get(key);
      if (parent && child) dependents.set(idOf(parent), [...(dependents.get(idOf(parent)) ?? []), idOf(child)]);
    }
    return result.packages.map((p): Locked => {
      const w = result.why.get(`${p.package}:${p.architecture}`);
      const meta: Record<string, string> = { filename: p.filename };
      for (const [field, key] of Object.entries(CONTROL_META)) {
        const v = (p as AptPackageRecord)[key];
        if (typeof v === 'string' && v) meta[field] = v;
      }
      if (p.essential) meta.Essential = 'yes';
      if (p.installedSize !== undefined) meta['Installed-Size'] = String(p.installedSize);
      if (w) meta.pulledBy = w.field === 'request' ? '(requested)' : `${byKey.get(w.by) ? idOf(byKey.get(w.by)!) : w.by} ${w.field}`;
      const deps = dependents.get(idOf(p));
      if (deps) meta.dependsOn = deps.sort().join(' ');
      const o = p.origin;
      return {
        kind: 'apt',
        id: idOf(p),
        name: p.package,
        version: p.version,
        digest: digestOf(p.sha256),
        size: p.size,
        url: `${o.uri}/${p.filename}`,
        purl: new PackageURL('deb', o.vendor, p.package, p.version, { arch: p.architecture, distro: o.distro }).toString(),
        provenance: {
          kind: 'signed-index',
          index: `${o.uri} ${o.suite} ${o.indexPath}`,
          indexDigest: o.releaseDigest,
          signer: o.signer,
        },
        meta,
      };
    });
  },

  open(item, ctx) {
    return openUrl(item.url, item.size, item.id, ctx);
  },

  facts: aptLicences,
  install: installApt,
  preflight: async (items, ctx) => (await checkApt(items, ctx)).changes,
  space: aptSpace,
};

/**
 * apt's closure of the request over the stanzas of every index: kept as bytes in a file of the cache, records
 * built for the few thousand rows the resolver looks at (universe.ts); the file goes when the resolver is done.
 * Each index's rows are kept in the cache too (universe-cache.ts): the next lock over the same index reads them,
 * and apt's package IDs of the same stanzas.
 */
async function closureOf(spec: AptSpec, ctx: BuildCtx, indexes: FetchedIndex[], architectures: string[]): Promise<ResolveResult> {
  const universe = new Universe(new Spill(join(ctx.store.root, 'partial')));
  try {
    const parsed: { ix: FetchedIndex; from: number; to: number }[] = [];
    for (const ix of indexes) {
      const kept = await loadSegment(ctx.store.root, ix.sha256);
      if (kept) {
        universe.addSegment(kept, ix.ref);
        continue;
      }
      const from = universe.length;
      await readStanzas(readIndex(ix), PACKAGE_FIELDS, (stanza) => {
        const rec = toPackageRecord(stanza, ix.ref);
        if (rec) universe.add(rec);
      });
      parsed.push({ ix, from, to: universe.length });
    }
    phaseDone(); // what parsing left (64 KiB pieces, field strings) goes before the resolver builds its tables
    // Kept after that collection, so the copies out do not stack on the parse's garbage (the lock's peak).
    for (const { ix, from, to } of parsed) await saveSegment(ctx.store.root, ix.sha256, universe.segment(from, to));
    const installed = await targetStatus(spec, ctx);
    const idsAt = idsKey(
      indexes.map((ix) => ix.sha256),
      architectures,
      installed,
    );
    const ids: IdMemo = { known: await loadIds(ctx.store.root, idsAt) };
    const result = resolveClosure(universe, installed, { packages: spec.packages, exclude: spec.exclude, recommends: spec.recommends, architectures }, ids);
    if (!ids.known && ids.complete) await saveIds(ctx.store.root, idsAt, ids.complete());
    return result;
  } catch (err) {
    throw err instanceof ClosureError ? closureError(err) : err;
  } finally {
    universe.close();
  }
}

/** What the box has installed: the probe's dpkg status (`--target`) wins over target-status; with neither, an empty box. */
async function targetStatus(spec: AptSpec, ctx: BuildCtx): Promise<InstalledRecord[]> {
  if (!ctx.box) return spec['target-status'] ? readStatus(resolvePath(ctx.baseDir, spec['target-status'])) : [];
  const status = ctx.boxDpkgStatus;
  if (status === undefined) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `apt: the probe of ${ctx.box.hostname} has no dpkg status (${ctx.box.dpkg.present ? '' : ctx.box.dpkg.reason})`,
      subject: 'apt',
      hint: 'run "vault-bundle probe" again on the box where /var/lib/dpkg/status can be read',
    });
  }
  if (spec['target-status']) {
    ctx.report({
      type: 'warn',
      message: `apt: the probe of ${ctx.box.hostname} is the target's dpkg status; target-status ${spec['target-status']} is not read`,
      subject: 'apt.target-status',
    });
  }
  return parseStatus([status]);
}

async function readStatus(path: string): Promise<InstalledRecord[]> {
  try {
    return await parseStatus(createReadStream(path));
  } catch (err) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `apt.target-status: cannot read ${path} (${(err as Error).message})`,
      subject: 'apt.target-status',
      hint: "copy the box's /var/lib/dpkg/status next to the manifest and point target-status at it",
    });
  }
}

/** The resolver's failure as the user's problem, with what to do about it. */
function closureError(err: ClosureError): UpstreamError {
  return new UpstreamError({
    code: err.code === 'UNSATISFIABLE' ? 'CLOSURE_MISSING' : 'NOT_FOUND_IN_INDEX',
    message: `apt: ${err.message}`,
    subject: `apt:${err.package}`,
    hint:
      err.hint ??
      (err.code === 'UNSATISFIABLE'
        ? 'add the repository (or component) that provides it, or list the package under "exclude" if the box already has it'
        : 'check the package name and version, and that its repository and component are in apt.sources'),
    cause: err,
  });
}
