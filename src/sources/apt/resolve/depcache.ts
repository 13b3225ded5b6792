import { DepCacheMarks } from './depcache-marks.js';
import { buildDeps, groupsOf } from './deps.js';
import { type Dep, fieldName, isCritical, isNegative, MODE_DELETE, MODE_INSTALL, MODE_KEEP, type Pkg, satisfiesVer, type Ver } from './model.js';
import { CANDANDINST, CANDIDATE, INSTALLED } from './providers.js';

/**
 * apt-pkg/depcache.cc's marking: MarkInstall with everything it calls (IsInstallOk, CollectDependencies,
 * RemoveConflictsIfNotUpgradeable, CollectReverseDepends, UpgradeOtherBinaries, InstallDependencies…),
 * MarkKeep, MarkDelete and SetCandidateVersion, in apt's order of decisions; the first half (the state
 * changes and the checks) is DepCacheMarks in depcache-marks.ts.
 */
export class DepCache extends DepCacheMarks {
  /** Reverse dependencies of the installed versions, built on first use. */
  private installedRevDeps: Map<Pkg, Dep[]> | undefined;
  /** Installed packages by the source names of their versions, built on first use. */
  private installedBySource: Map<string, Pkg[]> | undefined;

  private markDeleteForNotUpgradeable(p: Pkg, propagate: boolean, delayed: Pkg[], depth: number): boolean {
    if (!propagate) {
      if (p.mode === MODE_DELETE) return true;
      if (!this.isModeChangeOk(MODE_DELETE, p, depth, false) || !this.isDeleteOk(p, false)) return false;
      delayed.push(p);
      return true;
    }
    if (p.mode !== MODE_DELETE && !this.markDelete(p, depth + 1, false)) return false;
    this.discardCandidate(p);
    p.protect = true;
    return true;
  }

  private removeConflictsIfNotUpgradeable(toRemove: Dep[], toUpgrade: Pkg[], delayed: Pkg[], propagate: boolean, fromUser: boolean, depth: number): boolean {
    let failed = false;
    const bad: Pkg[] = [];
    const stop = () => failed && !propagate && !fromUser;
    for (const d of toRemove) {
      for (const v of this.providers.getAllPossibleSolutions([d], CANDIDATE, true)) {
        const p = v.pkg;
        if (p.cand !== v) continue;
        if (p.current !== v) {
          if (p.mode === MODE_INSTALL && !this.markKeep(p, false, depth)) {
            failed = true;
            if (stop()) break;
          } else if (propagate) {
            this.discardCandidate(p);
            if (!p.current) p.protect = true;
          } else bad.push(p);
        } else if (!this.markDeleteForNotUpgradeable(p, propagate, delayed, depth)) {
          failed = true;
          if (stop()) break;
        }
      }
      if (stop()) break;
      for (const v of this.providers.getAllPossibleSolutions([d], INSTALLED, true)) {
        const p = v.pkg;
        if (p.cand !== v && p.cand !== null && !bad.includes(p)) toUpgrade.push(p);
        else if (p.cand === p.current) {
          // handled above
        } else if (!this.markDeleteForNotUpgradeable(p, propagate, delayed, depth)) {
          failed = true;
          if (stop()) break;
        }
      }
      if (stop()) break;
    }
    return !failed;
  }

  private revDepsOfInstalled(p: Pkg): Dep[] {
    if (!this.installedRevDeps) {
      this.installedRevDeps = new Map();
      for (const q of this.cache.pkgs) {
        if (!q.current) continue;
        for (const d of buildDeps(this.cache, q.current)) {
          let l = this.installedRevDeps.get(d.target);
          if (!l) this.installedRevDeps.set(d.target, (l = []));
          l.push(d);
        }
      }
    }
    return this.installedRevDeps.get(p) ?? [];
  }

  /** Installed packages whose important dependency the new version of pv's package no longer satisfies. */
  private collectReverseDepends(pv: Ver, toUpgrade: Pkg[]): void {
    const cur = pv.pkg.current;
    if (!cur) return;
    for (const d of this.revDepsOfInstalled(pv.pkg)) {
      const parent = d.ver.pkg;
      if (parent.current !== d.ver || parent.mode === MODE_INSTALL) continue;
      if (!this.depState.isImportant(d) || isNegative(d)) continue;
      if (!satisfiesVer(d, cur.str) || satisfiesVer(d, pv.str)) continue;
      if (toUpgrade.includes(parent)) continue;
      toUpgrade.push(parent);
    }
  }

  /** Upgrades the installed binaries of v's source whose candidate comes from the same source version. */
  private upgradeOtherBinaries(p: Pkg, v: Ver | null, depth: number): void {
    if (!v) return;
    if (!this.installedBySource) {
      this.installedBySource = new Map();
      for (const q of this.cache.pkgs) {
        if (!q.current) continue;
        for (const qv of q.versions) {
          let l = this.installedBySource.get(qv.srcName);
          if (!l) this.installedBySource.set(qv.srcName, (l = []));
          if (!l.includes(q)) l.push(q);
        }
      }
    }
    const todo: Pkg[] = [];
    for (const o of this.installedBySource.get(v.srcName) ?? []) {
      if (o === p) continue;
      const ov = o.cand;
      if (!ov || !o.current || o.current === ov) continue;
      if (o.mode === MODE_INSTALL && o.inst === ov) continue;
      if (ov.srcName !== v.srcName || ov.srcVer !== v.srcVer) continue;
      todo.push(o);
    }
    todo.sort((a, b) => a.id - b.id);
    for (const o of todo) this.markInstall(o, false, depth + 1, false);
    for (const o of todo) this.markInstall(o, true, depth + 1, false);
  }

  private upgradeOrRemoveConflicts(toUpgrade: Pkg[], propagate: boolean, fromUser: boolean, depth: number): boolean {
    let failed = false;
    for (const q of toUpgrade) {
      if (q.mode !== MODE_INSTALL && !this.markInstall(q, true, depth + 1, false)) {
        if (!this.markDelete(q, depth + 1, false)) {
          failed = true;
          if (!propagate && !fromUser) break;
        } else if (propagate) q.protect = true;
      }
    }
    return !failed;
  }

  private installDependencies(p: Pkg, toInstall: Dep[][], propagate: boolean, fromUser: boolean, depth: number): boolean {
    const { bitInst, bitNow, isImportant } = this.depState;
    const { provenance, providers } = this;
    let failed = false;
    for (const g of toInstall) {
      const start = g[0]!;
      let found = g.some(bitInst);
      if (found && !propagate) continue;
      const critical = isCritical(start);
      if (found) {
        // try propagating protected to this satisfied dependency
        if (!critical) continue;
        const sols = providers.getAllPossibleSolutions(g, CANDANDINST, false);
        if (sols.length !== 1) continue;
        const q = sols[0]!.pkg;
        if (q.protect) continue;
        q.protect = true;
        if (!this.markInstall(q, true, depth + 1, false)) failed = true;
        continue;
      }
      if (p.current && !critical) {
        // a Recommends of an installed package: only new ones or ones that were satisfied before
        let isNew = true;
        let wasSatisfied = false;
        const cg = groupsOf(this.cache, p.current);
        outer: for (const cgroup of cg) {
          for (const d of cgroup) {
            if (isCritical(d) || !isImportant(d) || start.target !== d.target) continue;
            isNew = false;
            wasSatisfied = cgroup.some(bitNow);
            if (wasSatisfied) break outer;
            break;
          }
        }
        if (!isNew && !wasSatisfied) continue;
      }
      const sols = providers.getAllPossibleSolutions(g, CANDIDATE, true);
      for (const v of sols) {
        const q = v.pkg;
        if (q.cand !== v) continue;
        if (!provenance.triedBy.has(q)) provenance.triedBy.set(q, p);
        if (propagate && critical && sols.length === 1) {
          if (!this.markInstall(q, false, depth + 1, false)) continue;
          q.protect = true;
        }
        if (!this.markInstall(q, true, depth + 1, false)) continue;
        provenance.recordPull(q, p, fieldName(g[g.length - 1]!));
        found = true;
        break;
      }
      if (!found && critical) {
        provenance.recordFailure(p, g);
        failed = true;
        if (!propagate && !fromUser) break;
      }
    }
    return !failed;
  }

  /** pkgDepCache::MarkInstall. */
  markInstall(p: Pkg, autoInst: boolean, depth: number, fromUser: boolean): boolean {
    if (p.excluded) return true; // treated as installed, and as having what it needs
    if (p.protect && p.mode === MODE_KEEP && p.cand && p.cand === p.current) {
      // here to mark the dependencies as protected; no state is changed
    } else if (!this.isModeChangeOk(MODE_INSTALL, p, depth, fromUser)) return false;
    if (!p.cand) return false;
    if (!p.protect) {
      const broken = this.depState.instBrokenness(p);
      if (!broken.policy && !broken.min) {
        if (p.cand === p.current) {
          if (!p.inst) return this.markKeep(p, fromUser, depth + 1);
          return true;
        } else if (p.mode === MODE_INSTALL) return true;
      }
    }
    if (!this.isInstallOk(p, autoInst, fromUser)) return false;
    if (fromUser && !this.stateChange(p, fromUser)) return false;
    const failEarly = !p.protect && !fromUser;
    let hasFailed = false;
    const toInstall: Dep[][] = [];
    const toRemove: Dep[] = [];
    const toUpgrade: Pkg[] = [];
    const delayed: Pkg[] = [];
    if (autoInst) {
      const pv = p.cand;
      this.collectDependencies(pv, toInstall, toRemove);
      if (!this.removeConflictsIfNotUpgradeable(toRemove, toUpgrade, delayed, p.protect, fromUser, depth)) {
        if (failEarly) return false;
        hasFailed = true;
      }
      this.collectReverseDepends(pv, toUpgrade);
    }
    if (!fromUser && !this.stateChange(p, fromUser)) return false;
    if (!autoInst) return !hasFailed;

    const already = p.protect;
    if (!already) p.protect = true;
    try {
      this.upgradeOtherBinaries(p, p.cand, depth);
      if (!this.upgradeOrRemoveConflicts(toUpgrade, already, fromUser, depth)) {
        if (failEarly) {
          this.discardInstall(p);
          return false;
        }
        hasFailed = true;
      }
      if (!this.installDependencies(p, toInstall, already, fromUser, depth)) {
        if (failEarly) {
          this.discardInstall(p);
          return false;
        }
        hasFailed = true;
      }
      for (const r of delayed) {
        if (!this.markDelete(r, depth, false)) {
          if (failEarly) {
            this.discardInstall(p);
            return false;
          }
          hasFailed = true;
        }
      }
    } finally {
      if (!already) p.protect = false;
    }
    return !hasFailed;
  }
}
