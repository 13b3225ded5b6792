import type { PackageCache } from './cache.js';
import type { DepState } from './dep-state.js';
import { type Dep, type Group, isNegative, MA_SAME, MODE_DELETE, MODE_KEEP, type Pkg, satisfiesPrv, satisfiesVer, type Ver } from './model.js';
import type { PackageIds } from './package-ids.js';

// The version selectors of APT::VersionVector::FromDependency.
export const CANDIDATE = 0;
export const INSTALLED = 1;
export const CANDANDINST = 2;

/**
 * The versions that could satisfy (or, for Conflicts/Breaks, that hit) a dependency, in the order apt tries
 * them: depcache.cc's getAllPossibleSolutions with the CompareProviders ordering.
 */
export class Providers {
  /** Whether any architecture of a group is installed on the target (never changes while marking). */
  private readonly groupInstalled = new Map<Group, boolean>();

  constructor(
    private readonly cache: PackageCache,
    private readonly ids: PackageIds,
    private readonly depState: DepState,
  ) {}

  private anyInstalledIn(g: Group): boolean {
    let r = this.groupInstalled.get(g);
    if (r === undefined) this.groupInstalled.set(g, (r = this.cache.groupPkgs(g).some((p) => p.current !== null)));
    return r;
  }

  /** CompareProviders: the order in which apt tries the versions that could satisfy a dependency on target. */
  private compareProviders(target: Pkg): (av: Ver, bv: Ver) => number {
    const { native, archOrder } = this.cache;
    return (av: Ver, bv: Ver): number => {
      const a = av.pkg;
      const b = bv.pkg;
      if (a.protect !== b.protect) return a.protect ? -1 : 1;
      if (av.ma & MA_SAME || bv.ma & MA_SAME) {
        const ia = (av.ma & MA_SAME) !== 0 && this.anyInstalledIn(a.group);
        const ib = (bv.ma & MA_SAME) !== 0 && this.anyInstalledIn(b.group);
        if (ia !== ib) return ia ? -1 : 1;
      }
      if ((!a.current || !b.current) && !a.current !== !b.current) return a.current ? -1 : 1;
      if (a.group !== b.group) {
        if (a.group === target.group) return -1;
        if (b.group === target.group) return 1;
      }
      if (a.essential !== b.essential) return a.essential ? -1 : 1;
      if (a.important !== b.important) return a.important ? -1 : 1;
      if (a.arch !== b.arch) {
        if (a.arch === native) return -1;
        if (b.arch === native) return 1;
        for (const x of archOrder) {
          if (x === a.arch) return -1;
          if (x === b.arch) return 1;
        }
      }
      if (av.priority !== bv.priority) return av.priority - bv.priority;
      return this.ids.of(b) - this.ids.of(a);
    };
  }

  /** APT::VersionVector::FromDependency: the candidate and/or installed versions matching d. */
  fromDependency(d: Dep, selector: number): Ver[] {
    if (selector === CANDANDINST) return [...this.fromDependency(d, CANDIDATE), ...this.fromDependency(d, INSTALLED)];
    if (selector === CANDIDATE && !this.depState.rawCVer(d)) return [];
    const of = (p: Pkg) => (selector === CANDIDATE ? p.cand : p.current);
    const out: Ver[] = [];
    const t = d.target;
    const tv = of(t);
    if (tv && !this.depState.ignorablePkg(d, t) && satisfiesVer(d, tv.str)) out.push(tv);
    for (const prv of this.cache.providesOf(t)) {
      if (this.depState.ignorablePrv(d, prv)) continue;
      const v = of(prv.ver.pkg);
      if (prv.ver === v && satisfiesPrv(d, prv)) out.push(v);
    }
    return out;
  }

  /**
   * getAllPossibleSolutions: the versions for an or-group, upgrades of installed packages before new ones
   * (each dependency's sorted by CompareProviders) or, unsorted, by version ID; without protected packages
   * that are to stay removed or uninstalled (except for Conflicts/Breaks, where those are the point).
   */
  getAllPossibleSolutions(g: Dep[], selector: number, sorted: boolean): Ver[] {
    let toUpgrade: Ver[] = [];
    const toNew: Ver[] = [];
    for (const d of g) {
      const list = this.fromDependency(d, selector);
      if (!sorted) {
        toUpgrade.push(...list);
        continue;
      }
      list.sort(this.compareProviders(d.target));
      for (const v of list) (v.pkg.current ? toUpgrade : toNew).push(v);
    }
    toUpgrade = toUpgrade.length ? toUpgrade.concat(toNew) : toNew;
    if (!sorted) toUpgrade.sort((a, b) => a.id - b.id);
    const uniq = toUpgrade.filter((v, i) => i === 0 || toUpgrade[i - 1] !== v);
    if (isNegative(g[g.length - 1]!)) return uniq;
    return uniq.filter((v) => !(v.pkg.protect && (v.pkg.mode === MODE_DELETE || (v.pkg.mode === MODE_KEEP && !v.pkg.current))));
  }
}
