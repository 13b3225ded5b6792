import type { PackageCache } from './cache.js';
import type { DepState } from './dep-state.js';
import { groupsOf } from './deps.js';
import { type Dep, isCritical, isNegative, MA_SAME, MODE_DELETE, MODE_INSTALL, MODE_KEEP, type Pkg, type Ver } from './model.js';
import { downloadable, statusOf } from './policy.js';
import type { Provenance } from './provenance.js';
import type { Providers } from './providers.js';
import type { StateHistory } from './state-history.js';

/**
 * apt-pkg/depcache.cc's marking, first half: the state changes and the checks MarkInstall starts with
 * (IsModeChangeOk, IsDeleteOk, MarkKeep, MarkDelete, SetCandidateVersion, IsInstallOk and what it calls,
 * CollectDependencies). depcache.ts goes on with the rest of MarkInstall, in apt's order of decisions.
 */
export class DepCacheMarks {
  constructor(
    protected readonly cache: PackageCache,
    protected readonly history: StateHistory,
    protected readonly depState: DepState,
    protected readonly providers: Providers,
    protected readonly provenance: Provenance,
  ) {}

  /** pkgDepCache::IsModeChangeOk (mode -1 asks only about the generic refusals, as autoremove does). */
  isModeChangeOk(mode: number, p: Pkg, depth: number, fromUser: boolean): boolean {
    if (depth > 3000) return false;
    if (p.versions.length === 0) return false;
    if (fromUser) return true;
    if (p.mode === mode) return true;
    if (p.protect) return false;
    if (mode !== MODE_KEEP && p.hold) return false;
    if (mode === MODE_DELETE && (p.essential || p.important)) return false;
    return true;
  }

  /** IsDeleteOk: a new install the user asked for is not taken back by a dependency. */
  protected isDeleteOk(p: Pkg, fromUser: boolean): boolean {
    return !(!fromUser && !p.current && p.inst && p.status === 2 && !p.auto);
  }

  markKeep(p: Pkg, fromUser: boolean, depth: number): boolean {
    if (!this.isModeChangeOk(MODE_KEEP, p, depth, fromUser)) return false;
    if (p.mode === MODE_KEEP) return true;
    p.mode = MODE_KEEP;
    this.history.setInst(p, p.current);
    this.history.refresh(p);
    return true;
  }

  markDelete(p: Pkg, depth: number, fromUser: boolean): boolean {
    if (!this.isModeChangeOk(MODE_DELETE, p, depth, fromUser)) return false;
    if (p.mode === MODE_DELETE || !p.inst) return true;
    if (!this.isDeleteOk(p, fromUser)) return false;
    p.mode = p.current ? MODE_DELETE : MODE_KEEP;
    this.history.setInst(p, null);
    this.history.refresh(p);
    return true;
  }

  setCandidateVersion(p: Pkg, v: Ver): void {
    if (p.cand === v) return;
    if (p.cand === p.inst && p.mode === MODE_INSTALL) this.history.setInst(p, v);
    this.history.setCand(p, v);
    p.status = statusOf(p);
    this.history.refresh(p);
  }

  /** Without an Update(Pkg): the dependencies on p keep their stale cached state. */
  protected discardCandidate(p: Pkg): void {
    this.history.setCand(p, p.inst); // StateCache::Update keeps the old Status
  }

  protected discardInstall(p: Pkg): void {
    if (p.mode === MODE_KEEP && p.inst === p.cand && p.cand === p.current) return;
    this.history.setInst(p, p.current);
    p.mode = MODE_KEEP;
    this.history.refresh(p);
    this.discardCandidate(p);
  }

  /** MarkInstall's state change: install the candidate, and set the auto flag as apt does. */
  protected stateChange(p: Pkg, fromUser: boolean): boolean {
    if (p.protect && p.inst === p.cand) return true;
    p.mode = MODE_INSTALL;
    this.history.setInst(p, p.cand);
    if (fromUser) {
      if (p.status === 2 || p.current) p.auto = false;
    } else if (p.status === 2) p.auto = true;
    if (p.cand === p.current) p.mode = MODE_KEEP;
    this.history.refresh(p);
    return true;
  }

  /** A M-A:same package is not installed automatically at another version than its installed siblings. */
  protected multiArchSameVersionSynced(p: Pkg, fromUser: boolean): boolean {
    if (fromUser) return true;
    if (p.mode === MODE_INSTALL && p.inst === p.cand) return true;
    const cv = p.cand;
    if (!cv || cv === p.current || !(cv.ma & MA_SAME)) return true;
    for (const q of this.cache.groupPkgs(p.group)) {
      if (!q.current || q === p) continue;
      const qv = q.cand;
      if (!qv || qv.str === cv.str) continue;
      if (!(qv.ma & MA_SAME)) continue;
      if (!downloadable(qv)) continue;
      return false;
    }
    return true;
  }

  /** A candidate with a critical dependency no candidate satisfies is discarded (and the failure recorded). */
  protected dependenciesSatisfiableByCandidates(p: Pkg, autoInst: boolean): boolean {
    if (!autoInst) return true;
    const cv = p.cand;
    if (!cv || cv === p.current) return true;
    const { bitInst, bitCVer } = this.depState;
    for (const g of groupsOf(this.cache, cv)) {
      const first = g[0]!;
      if (g.some((d) => bitInst(d) || bitCVer(d)) || !isCritical(first) || isNegative(first)) continue;
      this.provenance.recordFailure(p, g);
      if (!p.protect) {
        if (p.current) this.setCandidateVersion(p, p.current);
        else this.history.setCand(p, null);
        if (p.mode !== MODE_DELETE) p.mode = MODE_KEEP;
        p.status = statusOf(p);
      }
      return false;
    }
    return true;
  }

  protected isInstallOk(p: Pkg, autoInst: boolean, fromUser: boolean): boolean {
    return this.multiArchSameVersionSynced(p, fromUser) && this.dependenciesSatisfiableByCandidates(p, autoInst);
  }

  /** The important or-groups of pv not yet satisfied (all of them when p is protected). */
  protected collectDependencies(pv: Ver, toInstall: Dep[][], toRemove: Dep[]): void {
    const propagate = pv.pkg.protect;
    const { bitInst, isImportant } = this.depState;
    for (const g of groupsOf(this.cache, pv)) {
      if (g.some(bitInst) && !propagate) continue;
      const first = g[0]!;
      if (!isImportant(first)) continue;
      if (isNegative(first)) toRemove.push(first);
      else toInstall.push(g);
    }
  }
}
