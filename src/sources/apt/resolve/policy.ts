import type { Pkg, Ver } from './model.js';
import { compareVersions } from '../version.js';

// The candidate policy of apt-pkg/policy.cc, with the pin of each index as the only pins (no
// apt_preferences per package).

/** Whether a version can be fetched: it is in at least one index, not only in the status file. */
export const downloadable = (v: Ver) => v.recs.length > 0;

/** pkgPolicy::GetPriority of a version: its best index pin, 100 if it is the installed one. */
export function verPriority(v: Ver): number {
  let p = v.recs.length ? v.pin : -Infinity;
  if (v.status) p = Math.max(p, v.pkg.current === v ? 100 : -1);
  return p === -Infinity ? 0 : p;
}

/** pkgPolicy::GetCandidateVer: the highest-priority version, never a downgrade unless pinned to 1000 or more. */
export function policyCandidate(p: Pkg): Ver | null {
  let cand: Ver | null = null;
  let candPriority = -1;
  const cur = p.current;
  for (const v of p.versions) {
    const prio = verPriority(v);
    if (prio === 0 || prio <= candPriority) continue;
    if (cur && prio < 1000 && compareVersions(v.str, cur.str) < 0) continue;
    candPriority = prio;
    cand = v;
  }
  return cand;
}

/** StateCache::Status: 2 when not installed (or nothing to install), else the sign of candidate vs installed. */
export function statusOf(p: Pkg): number {
  if (!p.current || p.versions.length === 0 || !p.cand) return 2;
  return Math.sign(compareVersions(p.cand.str, p.current.str));
}
