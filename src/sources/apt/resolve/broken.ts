import { formatRelation } from '../relations.js';
import type { ResolveContext } from './context.js';
import { groupsOf } from './deps.js';
import { ClosureError } from './errors.js';
import { type Dep, fieldName, isCritical, isNegative, MODE_INSTALL, type Pkg, satisfiesVer, T_BREAKS, T_PREDEPENDS, type Ver } from './model.js';
import { CANDIDATE } from './providers.js';

/**
 * Where apt would run its scored problem resolver (apt-pkg/algorithms.cc) because marking left a package
 * broken, this port names the broken dependency instead: throws ClosureError UNSATISFIABLE for the first new
 * install or upgrade left broken, else for the first installed package the closure's changes break.
 */
export function assertNothingBroken(ctx: ResolveContext): void {
  const { cache, depState } = ctx;
  const isNewlyBroken = (p: Pkg) => p.inst !== null && depState.instBrokenness(p).min && !(p.current && depState.nowBroken(p));
  const touched = () => cache.pkgs.filter((p) => p.touched);
  for (const p of touched()) {
    if (p.mode === MODE_INSTALL && isNewlyBroken(p)) throw brokenError(ctx, p);
  }
  for (const p of cache.pkgs) {
    if (p.current && p.mode !== MODE_INSTALL && isNewlyBroken(p)) throw brokenError(ctx, p);
  }
}

/** p and who pulled it in (or first tried to), back to a request. */
function chainOf(ctx: ResolveContext, p: Pkg): Pkg[] {
  const { pulledBy, triedBy } = ctx.provenance;
  const out: Pkg[] = [p];
  let cur: Pkg | undefined = p;
  while (cur && out.length < 100) {
    let next: Pkg | undefined = pulledBy.get(cur)?.find((x) => !out.includes(x.by))?.by;
    if (!next) {
      const t = triedBy.get(cur);
      if (t && !out.includes(t)) next = t;
    }
    if (!next) break;
    out.push(next);
    cur = next;
  }
  return out;
}

/**
 * The error for a package marking left broken: one sentence naming the dependency that failed and the chain of
 * packages that pulled it in. It stands where apt-get prints "The following packages have unmet dependencies"
 * (apt-private/private-output.cc: ShowBroken, ShowBrokenPackage, ShowBrokenDeps) after its problem resolver
 * (apt-pkg/algorithms.cc: pkgProblemResolver::Resolve) gave up; it is not a port of either, so it keeps the house size.
 */
function brokenError(ctx: ResolveContext, p: Pkg): ClosureError {
  const { cache, depState, providers } = ctx;
  const v = p.inst!;
  // of the broken groups, one nothing in the sources could satisfy is the one to name
  const broken = groupsOf(cache, v).filter((x) => isCritical(x[0]!) && !x.some(depState.bitInst));
  const g = broken.find((x) => !isNegative(x[0]!) && x.every((d) => providers.fromDependency(d, CANDIDATE).length === 0)) ?? broken[0] ?? [];
  if (g[0] && isNegative(g[0])) return conflictError(ctx, p, v, g[0]);
  if (g[0] && p.current === v && p.mode !== MODE_INSTALL) {
    // An installed package the closure's upgrades or removals break.
    const text = g.map((d) => (d.rel ? formatRelation(d.rel) : d.target.group.name)).join(' | ');
    return new ClosureError(
      'UNSATISFIABLE',
      p.group.name,
      `${p.group.name} ${v.str} (installed on the target) ${fieldName(g[0])} ${text}, which the closure's changes no longer satisfy; ` +
        `apt would upgrade or remove ${p.group.name} with its problem resolver, which is not reproduced here`,
      text,
      [p.group.name],
    );
  }
  return unsatisfiedError(ctx, p, g);
}

/**
 * A Conflicts/Breaks of an installed package against what the closure installs: apt's problem resolver would
 * upgrade or remove that package.
 */
function conflictError(ctx: ResolveContext, p: Pkg, v: Ver, d: Dep): ClosureError {
  const { cache } = ctx;
  const hit = [d.target, ...cache.providesOf(d.target).map((x) => x.ver.pkg)].find((q) => q.mode === MODE_INSTALL && q !== p) ?? d.target;
  const text = d.rel ? formatRelation(d.rel) : d.target.group.name;
  const names = chainOf(ctx, hit).map((x) => x.group.name);
  return new ClosureError(
    'UNSATISFIABLE',
    p.group.name,
    `${p.group.name} ${v.str}${p.current === v ? ' (installed on the target)' : ''} ${d.type === T_BREAKS ? 'Breaks' : 'Conflicts'} ${text}, ` +
      `which the closure installs (${hit.group.name} ${hit.inst?.str ?? ''}, needed by: ${names.join(' ← ')}); apt would upgrade or remove ${p.group.name} ` +
      'with its problem resolver, which is not reproduced here: add a newer version of it to the request',
    text,
    names,
  );
}

/** A dependency nothing satisfies: followed down the alternatives that failed on their own to the first one. */
function unsatisfiedError(ctx: ResolveContext, p: Pkg, g: Dep[]): ClosureError {
  const { cache, providers } = ctx;
  const failures = ctx.provenance.failures;
  let at = p;
  let group: Dep[] = g;
  const chain = chainOf(ctx, p);
  for (let i = 0; i < 50; i++) {
    const next = group.flatMap((d) => [d.target, ...cache.providesOf(d.target).map((x) => x.ver.pkg)]).find((q) => failures.has(q) && !chain.includes(q));
    if (!next) break;
    chain.unshift(next);
    at = next;
    group = failures.get(next)!;
  }
  const atVer = at.inst ?? at.cand ?? at.versions[0];
  const text = group.map((d) => (d.rel ? formatRelation(d.rel) : d.target.group.name)).join(' | ');
  const have = group
    .map((d) => d.target.current)
    .filter((x): x is Ver => x !== null)
    .map((x) => `the target has ${x.pkg.group.name} ${x.str}`);
  const field = group[0]
    ? group[0].type === T_PREDEPENDS
      ? 'Pre-Depends'
      : isNegative(group[0])
        ? group[0].type === T_BREAKS
          ? 'Breaks'
          : 'Conflicts'
        : 'Depends'
    : 'Depends';
  const satisfiable = group.some((d) => providers.fromDependency(d, CANDIDATE).length > 0);
  const names = chain.map((x) => x.group.name);
  // The usual cause when a pinned package's exact dependency fails: the sources hold the matching version,
  // but apt's candidate is another (a newer point release); apt-get would refuse the same request.
  const older =
    satisfiable || have.length > 0 || !group[0] || isNegative(group[0])
      ? undefined
      : group.flatMap((d) => (d.target.cand ? d.target.versions.filter((x) => x !== d.target.cand && satisfiesVer(d, x.str)).map((x) => ({ d, x })) : []))[0];
  if (older) {
    const pin = `${older.d.target.group.name}=${older.x.str}`;
    return new ClosureError(
      'UNSATISFIABLE',
      at.group.name,
      `${at.group.name} ${atVer?.str ?? ''} ${field} ${text}: the sources have ${older.d.target.group.name} ${older.x.str}, but apt's candidate is ${older.d.target.cand!.str} (needed by: ${names.join(' ← ')})`,
      text,
      names,
      `pin it too: add "${pin}" to apt.packages`,
    );
  }
  return new ClosureError(
    'UNSATISFIABLE',
    at.group.name,
    `${at.group.name} ${atVer?.str ?? ''} ${field} ${text}, which ${
      satisfiable ? 'cannot be installed together with the rest' : 'no package in the sources satisfies'
    }${have.length ? ` (${have.join(', ')})` : ''} (needed by: ${names.join(' ← ')})`,
    text,
    names,
  );
}
