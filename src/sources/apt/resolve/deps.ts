import { parseRelations, type Relation } from '../relations.js';
import type { PackageCache } from './cache.js';
import {
  DEP_FIELDS,
  type Dep,
  F_ARCHSPECIFIC,
  F_IMPLICIT,
  F_OR,
  MA_SAME,
  OP_NE,
  OP_NONE,
  type Pkg,
  relOp,
  type RelSource,
  T_BREAKS,
  T_CONFLICTS,
  T_ENHANCES,
  T_REPLACES,
  type Ver,
  verArch,
} from './model.js';

/**
 * A version's dependencies as debListParser::ParseDepends and NewDepends record them (unqualified negative
 * ones against every architecture of the group, pkg:any and pkg:arch targets, the implicit Multi-Arch ones
 * between group members), built when first needed. Replaces and Enhances are left out: marking never looks
 * at them.
 */
export function buildDeps(cache: PackageCache, v: Ver): Dep[] {
  if (v.deps) return v.deps;
  const { native } = cache;
  const src: RelSource = cache.stanza(v.def);
  const pkgArch = verArch(v);
  const barbarian = !cache.checkArch(pkgArch);
  const deps: Dep[] = [];
  for (const [field, type] of DEP_FIELDS) {
    if (type === T_REPLACES || type === T_ENHANCES || field === 'provides') continue; // never looked at when marking
    const negative = type === T_BREAKS || type === T_CONFLICTS;
    for (const g of parseRelations(src[field])) {
      const alts: { target: Pkg; op: number; rel: Relation }[] = [];
      for (const r of g) {
        const op = relOp(r.op);
        if (!r.arch) {
          if (negative) for (const t of cache.groupPkgs(cache.getGroup(r.name))) alts.push({ target: t, op, rel: r });
          else alts.push({ target: cache.getPkg(r.name, pkgArch), op, rel: r });
        } else if (r.arch === 'any') {
          alts.push({ target: cache.getPkg(`${r.name}:any`, 'any'), op, rel: r });
          if (barbarian) alts.push({ target: cache.getPkg(r.name, pkgArch), op, rel: r });
        } else {
          alts.push({ target: cache.getPkg(`${r.name}:${r.arch === 'native' ? native : r.arch}`, 'any'), op: op | F_ARCHSPECIFIC, rel: r });
        }
      }
      alts.forEach((a, i) => {
        const or = !negative && i < alts.length - 1 ? F_OR : 0;
        deps.push({ ver: v, target: a.target, op: a.op | or, type, rel: a.rel, ...(a.rel.op ? { str: a.rel.version! } : {}) });
      });
    }
  }
  // Multi-Arch: group members of other architectures conflict (or, for M-A:same, must have this version)
  for (const d of cache.groupPkgs(v.pkg.group)) {
    if (d.arch === v.pkg.arch || d.versions.length === 0) continue;
    if (v.ma & MA_SAME) deps.push({ ver: v, target: d, op: OP_NE | F_IMPLICIT, str: v.str, type: T_BREAKS });
    else deps.push({ ver: v, target: d, op: OP_NONE | F_IMPLICIT, type: T_CONFLICTS });
  }
  v.deps = deps;
  const groupsOut: Dep[][] = [];
  let cur: Dep[] = [];
  for (const d of deps) {
    cur.push(d);
    if (!(d.op & F_OR)) {
      groupsOut.push(cur);
      cur = [];
    }
  }
  if (cur.length) groupsOut.push(cur);
  v.groups = groupsOut;
  return deps;
}

/** A version's dependencies as or-groups (each group's last member has no F_OR). */
export function groupsOf(cache: PackageCache, v: Ver): Dep[][] {
  buildDeps(cache, v);
  return v.groups!;
}
