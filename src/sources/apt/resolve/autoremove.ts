import { compareVersions } from '../version.js';
import type { ResolveContext } from './context.js';
import { buildDeps } from './deps.js';
import {
  isNegative,
  MODE_DELETE,
  MODE_INSTALL,
  MODE_KEEP,
  type Pkg,
  satisfiesPrv,
  satisfiesVer,
  T_DEPENDS,
  T_PREDEPENDS,
  T_RECOMMENDS,
  T_SUGGESTS,
  type Ver,
} from './model.js';

/**
 * pkgDepCache::MarkAndSweep as DoAutomaticRemove runs it after marking: new automatic installs that nothing
 * kept (a root: manual, essential, important, required) depends on are dropped again, unless that leaves
 * something broken, in which case those still depended on are installed after all.
 */
export function dropUnneededInstalls(ctx: ResolveContext): void {
  const { cache, depcache } = ctx;
  const live = cache.pkgs.filter((p) => p.current || p.touched);
  markFromRoots(ctx, live);
  const tooMuch: Pkg[] = [];
  for (const p of live) {
    if (p.current && p.current.priority === 1) continue;
    const garbage = !p.marked && (p.current !== null || p.mode === MODE_INSTALL);
    if (garbage && p.mode === MODE_INSTALL && !p.current) {
      tooMuch.push(p);
      depcache.markDelete(p, 0, false);
    }
  }
  if (tooMuch.length) keepStillNeeded(ctx, tooMuch);
}

/** A package that stays as it is on the target: nothing to keep alive through it. */
const boring = (p: Pkg) => (p.current ? p.mode === MODE_DELETE : p.mode === MODE_KEEP);

/** MarkAndSweep's mark phase: marks what the roots among live packages need, through the "best" providers. */
function markFromRoots(ctx: ResolveContext, live: Pkg[]): void {
  const { cache, depcache } = ctx;
  const fullyExplored = new Set<Pkg>();
  const markPackage = (p: Pkg, v: Ver | null, depth: number) => {
    if (!v || p.marked) return;
    if (boring(p)) {
      fullyExplored.add(p);
      return;
    }
    if (depth > 3000) return;
    p.marked = true;
    for (const d of buildDeps(cache, v)) {
      const t = d.target;
      if (fullyExplored.has(t)) continue;
      if (d.type !== T_DEPENDS && d.type !== T_PREDEPENDS && d.type !== T_RECOMMENDS && d.type !== T_SUGGESTS) continue;
      let unsatisfied = false;
      const bySource = new Map<string, Ver[]>();
      const add = (x: Ver) => {
        let l = bySource.get(x.srcName);
        if (!l) bySource.set(x.srcName, (l = []));
        l.push(x);
      };
      if (!boring(t)) {
        const tv = t.mode === MODE_INSTALL ? t.inst : t.current;
        if (tv) {
          if (!satisfiesVer(d, tv.str)) unsatisfied = true;
          else add(tv);
        }
      }
      if (bySource.size === 0 && !unsatisfied) t.marked = true;
      for (const prv of cache.providesOf(t)) {
        const pp = prv.ver.pkg;
        if (boring(pp)) continue;
        const pv = pp.mode === MODE_INSTALL ? pp.inst : pp.current;
        if (!pv || pv !== prv.ver) continue;
        if (!satisfiesPrv(d, prv)) unsatisfied = true;
        else add(pv);
      }
      // of each source, only the versions from its highest source version
      for (const [src, list] of bySource) {
        let best = list[0]!;
        for (const x of list) if (compareVersions(x.srcVer, best.srcVer) > 0) best = x;
        bySource.set(
          src,
          list.filter((x) => x.srcVer === best.srcVer),
        );
      }
      if (!unsatisfied) fullyExplored.add(t);
      for (const list of bySource.values()) for (const x of list) markPackage(x.pkg, x, depth + 1);
    }
  };
  for (const p of live) p.marked = false;
  for (const p of live) {
    if (p.marked || boring(p)) continue;
    const root = !p.auto || p.essential || p.important || (p.current !== null && p.current.priority === 1) || !depcache.isModeChangeOk(-1, p, 0, false);
    if (!root) continue;
    markPackage(p, p.mode === MODE_INSTALL ? p.inst : p.current, 0);
  }
}

/**
 * "we could have removed a new dependency of a garbage package": when dropping left something broken, keep
 * those that an installed (kept) package or a new install or upgrade still depends on.
 */
function keepStillNeeded(ctx: ResolveContext, tooMuch: Pkg[]): void {
  const { cache, depState, depcache } = ctx;
  const pkgs = cache.pkgs;
  const anyBroken = () => pkgs.some((p) => p.inst && (p.current || p.touched) && (depState.instBrokenness(p).min || depState.instBrokenness(p).policy));
  if (!anyBroken()) return;
  const dependents = pkgs.filter((q) => q.current || q.mode === MODE_INSTALL);
  let changed: boolean;
  do {
    changed = false;
    outer: for (const p of tooMuch) {
      for (const rp of dependents) {
        for (const rv of new Set([rp.current, rp.cand])) {
          if (!rv) continue;
          if (rp.current === rv) {
            if (rp.mode !== MODE_KEEP) continue;
          } else if (!(rp.mode === MODE_INSTALL && (rp.status === 2 || rp.status > 0))) continue;
          for (const r of buildDeps(cache, rv)) {
            if (isNegative(r) || !depState.isImportant(r)) continue;
            if (r.target !== p && !(p.cand && cache.providesOf(r.target).some((x) => x.ver === p.cand))) continue;
            depcache.markInstall(p, false, 0, false);
            tooMuch.splice(tooMuch.indexOf(p), 1);
            changed = true;
            break outer;
          }
        }
      }
    }
  } while (changed);
}
