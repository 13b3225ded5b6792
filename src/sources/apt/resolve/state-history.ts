import type { PackageCache } from './cache.js';
import type { Pkg, Ver } from './model.js';

/**
 * apt caches the state of every dependency and refreshes it only when the state of its target package (or
 * of a package providing it) is updated; a few steps (discarding a candidate) change a package without such
 * an update, and apt then decides on the stale state. This keeps what is needed to reproduce that: a clock,
 * each package's candidate and install version changes with their times, and the times of
 * pkgDepCache::Update(Pkg), so a dependency can be checked against the versions as they were when its
 * cached state was last computed.
 */
export class StateHistory {
  private clock = 0;

  constructor(private readonly cache: PackageCache) {}

  setCand(p: Pkg, v: Ver | null): void {
    if (p.cand === v) return;
    p.cand = v;
    (p.candH ??= []).push(++this.clock, v);
  }

  setInst(p: Pkg, v: Ver | null): void {
    p.touched = true;
    if (p.inst === v) return;
    p.inst = v;
    (p.instH ??= []).push(++this.clock, v);
  }

  /** p's candidate version at time t. */
  candAt(p: Pkg, t: number): Ver | null {
    const h = p.candH;
    if (!h) return p.cand0;
    for (let i = h.length - 2; i >= 0; i -= 2) if ((h[i] as number) <= t) return h[i + 1] as Ver | null;
    return p.cand0;
  }

  /** p's install version at time t. */
  instAt(p: Pkg, t: number): Ver | null {
    const h = p.instH;
    if (!h) return p.inst0;
    for (let i = h.length - 2; i >= 0; i -= 2) if ((h[i] as number) <= t) return h[i + 1] as Ver | null;
    return p.inst0;
  }

  /** pkgDepCache::Update(Pkg): refreshes the dependencies on the package and on what it provides. */
  refresh(p: Pkg): void {
    (p.refreshLog ??= []).push(++this.clock);
  }

  /**
   * When the cached state of the dependencies on t was last recomputed: at the last Update of t itself, or of
   * a package whose current or (then) candidate version provides t.
   */
  refreshedAt(t: Pkg): number {
    let best = t.refreshLog ? t.refreshLog[t.refreshLog.length - 1]! : 0;
    for (const prv of this.cache.providesOf(t)) {
      const p = prv.ver.pkg;
      const log = p.refreshLog;
      if (!log) continue;
      for (let i = log.length - 1; i >= 0; i--) {
        const at = log[i]!;
        if (at <= best) break;
        if (p.current === prv.ver || this.candAt(p, at) === prv.ver) {
          best = at;
          break;
        }
      }
    }
    return best;
  }
}
