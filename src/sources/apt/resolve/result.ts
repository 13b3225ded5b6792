import type { PackageRecord, ResolveResult } from '../types.js';
import type { ResolveContext } from './context.js';
import { ClosureError } from './errors.js';
import { keyOfVer, MODE_INSTALL } from './model.js';

/**
 * The closure: one stanza (from the highest-pinned index) per new install or upgrade, sorted by name and
 * architecture, and for each why it is there (who pulled it in, through which field).
 */
export function buildResult(ctx: ResolveContext, why: ResolveResult['why']): ResolveResult {
  const { cache } = ctx;
  const pulledBy = ctx.provenance.pulledBy;
  const chosen = cache.pkgs.filter((p) => p.mode === MODE_INSTALL && p.inst && p.inst !== p.current && !cache.excluded.has(p.group.name));
  const packages: PackageRecord[] = [];
  for (const p of chosen) {
    const v = p.inst!;
    if (!v.recs.length) throw new ClosureError('NOT_FOUND', p.group.name, `${p.group.name} ${v.str} cannot be downloaded from the configured sources`);
    let best = v.recs[0]!;
    for (const r of v.recs) if (r.origin.pin > best.origin.pin) best = r;
    packages.push(best);
  }
  packages.sort((a, b) =>
    a.package < b.package ? -1 : a.package > b.package ? 1 : a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0,
  );
  const inResult = new Set(chosen);
  for (const p of chosen) {
    const k = keyOfVer(p.inst!);
    if (why.has(k)) continue;
    const by = pulledBy.get(p)?.find((x) => x.by.mode === MODE_INSTALL || x.by.current);
    if (by) why.set(k, { by: keyOfVer(by.by.inst ?? by.by.current!), field: by.field });
  }
  for (const k of [...why.keys()]) {
    if (![...inResult].some((p) => keyOfVer(p.inst!) === k)) why.delete(k);
  }
  return { packages, why };
}
