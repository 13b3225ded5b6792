import type { PackageCache } from './cache.js';
import { groupsOf } from './deps.js';
import { type Dep, F_IMPLICIT, isCritical, isNegative, MA_SAME, type Pkg, type Prv, satisfiesPrv, satisfiesVer, T_RECOMMENDS, type Ver } from './model.js';
import type { StateHistory } from './state-history.js';

/** Which versions pkgDepCache::CheckDep checks a dependency against. */
const NOW = 0;
const INSTALL = 1;
const CANDIDATE = 2;

/**
 * pkgDepCache's dependency states (DepNow, DepInstall, DepCVer) and the brokenness of packages built on
 * them, as apt sees them: against the cached state of each dependency (see StateHistory).
 */
export class DepState {
  constructor(
    private readonly cache: PackageCache,
    private readonly history: StateHistory,
    private readonly installRecommends: boolean,
  ) {}

  /** A dependency on a package named in `exclude` holds: the package counts as installed with what it needs. */
  private isExcludedTarget(d: Dep): boolean {
    const excluded = this.cache.excluded;
    if (excluded.size === 0 || isNegative(d)) return false;
    const n = d.target.group.name;
    const colon = n.indexOf(':');
    return excluded.has(colon > 0 ? n.slice(0, colon) : n);
  }

  /** A Conflicts/Breaks does not hit its own package, nor (unless implicit) a M-A:same sibling. */
  ignorablePkg(d: Dep, t: Pkg): boolean {
    if (!isNegative(d)) return false;
    const pp = d.ver.pkg;
    if (pp.group !== t.group) return false;
    if (pp === t) return true;
    if (d.ver.ma & MA_SAME) return (d.op & F_IMPLICIT) === 0;
    return false;
  }

  /** A Conflicts/Breaks does not hit what its own group provides, and an implicit one hits no provides. */
  ignorablePrv(d: Dep, prv: Prv): boolean {
    if (!isNegative(d)) return false;
    if (prv.ver.pkg.group === d.ver.pkg.group) return true;
    if (d.op & F_IMPLICIT) return true;
    return false;
  }

  /** pkgDepCache::CheckDep against the current, install or candidate versions (at time t, or now). */
  private checkDep(d: Dep, which: 0 | 1 | 2, t: number | undefined): boolean {
    if (this.isExcludedTarget(d)) return true;
    const history = this.history;
    const of = (p: Pkg): Ver | null =>
      which === NOW ? p.current : which === INSTALL ? (t === undefined ? p.inst : history.instAt(p, t)) : t === undefined ? p.cand : history.candAt(p, t);
    const tp = d.target;
    if (!this.ignorablePkg(d, tp)) {
      const v = of(tp);
      if (v && satisfiesVer(d, v.str)) return true;
    }
    for (const prv of this.cache.providesOf(tp)) {
      if (this.ignorablePrv(d, prv)) continue;
      if (of(prv.ver.pkg) !== prv.ver) continue;
      if (satisfiesPrv(d, prv)) return true;
    }
    return false;
  }

  // The cached DepState bits (inverted for Conflicts/Breaks: set means "no conflict"). Arrow properties, so
  // they can be handed to some() as they are.
  readonly bitNow = (d: Dep): boolean => this.checkDep(d, NOW, undefined) !== isNegative(d);
  readonly bitInst = (d: Dep): boolean => this.checkDep(d, INSTALL, this.history.refreshedAt(d.target)) !== isNegative(d);
  readonly bitCVer = (d: Dep): boolean => this.checkDep(d, CANDIDATE, this.history.refreshedAt(d.target)) !== isNegative(d);
  /** DepCVer before the inversion: whether the candidates (as cached) satisfy or, for a negative one, hit it. */
  readonly rawCVer = (d: Dep): boolean => this.checkDep(d, CANDIDATE, this.history.refreshedAt(d.target));

  /** pkgDepCache::IsImportantDep: critical ones, and Recommends when they are installed. */
  readonly isImportant = (d: Dep): boolean => isCritical(d) || (d.type === T_RECOMMENDS && this.installRecommends);

  /** DepInstMin / DepInstPolicy of a package: its install version's critical / important groups. */
  instBrokenness(p: Pkg): { min: boolean; policy: boolean } {
    const v = p.inst;
    if (!v || p.excluded) return { min: false, policy: false };
    let policy = false;
    for (const g of groupsOf(this.cache, v)) {
      const first = g[0]!;
      const crit = isCritical(first);
      if (!crit && !this.isImportant(first)) continue;
      if (g.some(this.bitInst)) continue;
      if (crit) return { min: true, policy: true };
      policy = true;
    }
    return { min: false, policy };
  }

  /** DepNowMin: whether the installed version is broken on the target as it is. */
  nowBroken(p: Pkg): boolean {
    const v = p.current;
    if (!v || p.excluded) return false;
    for (const g of groupsOf(this.cache, v)) if (isCritical(g[0]!) && !g.some(this.bitNow)) return true;
    return false;
  }
}
