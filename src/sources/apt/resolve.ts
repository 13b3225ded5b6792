import { parseRelations, type Relation } from './relations.js';
import type { InstalledRecord, PackageRecord, ResolveRequest, ResolveResult } from './types.js';
import { compareVersions, satisfies } from './version.js';

/** A request or dependency that no package in the sources can satisfy. */
export class ClosureError extends Error {
  readonly package: string;
  constructor(
    readonly code: 'NOT_FOUND' | 'UNSATISFIABLE' | 'VERSION_NOT_FOUND',
    pkg: string,
    message: string,
    readonly missing?: string,
    readonly neededBy: string[] = [],
  ) {
    super(message);
    this.package = pkg;
  }
}

type Field = 'Depends' | 'Pre-Depends' | 'Recommends';

const PRIORITY_RANK: Record<string, number> = { required: 1, important: 2, standard: 3, optional: 4, extra: 5 };

/**
 * Computes what `apt-get install -s <packages>` would install, by apt's own rules (apt-pkg/depcache.cc
 * MarkInstall): requested packages are marked first, then their dependencies depth-first in field order
 * (Pre-Depends, Depends, Recommends); a group already satisfied by what is installed or marked is skipped;
 * otherwise each alternative in turn offers the candidates that satisfy it (the real package and the
 * packages that provide it), ordered as apt's CompareProviders orders them, and the first installable wins.
 */
export function resolveClosure(universe: readonly PackageRecord[], installed: readonly InstalledRecord[], req: ResolveRequest): ResolveResult {
  const native = req.architectures[0] ?? 'amd64';
  const archOK = new Set([...req.architectures, 'all']);
  const keyOf = (name: string, arch: string) => `${name}:${arch === 'all' ? native : arch}`;

  // Every version of every package, and the order packages were first seen (apt's package IDs).
  const versions = new Map<string, PackageRecord[]>();
  const firstSeen = new Map<string, number>();
  for (const r of universe) {
    if (!archOK.has(r.architecture)) continue;
    const k = keyOf(r.package, r.architecture);
    let list = versions.get(k);
    if (!list) versions.set(k, (list = []));
    list.push(r);
    if (!firstSeen.has(r.package)) firstSeen.set(r.package, firstSeen.size);
  }
  const installedBy = new Map(installed.map((i) => [i.package, i]));
  // The candidate of a package: highest pin, then highest version; computed on demand (a closure touches about
  // a thousand of the 60,000 packages). apt_preferences(5): a version below the installed one is never a
  // candidate unless pinned to 1000 or more; the installed version stays, and nothing of it is bundled.
  const chosen = new Map<string, PackageRecord | null>();
  const candidateOf = (k: string): PackageRecord | undefined => {
    const hit = chosen.get(k);
    if (hit !== undefined) return hit ?? undefined;
    const list = versions.get(k);
    let best = list?.[0];
    for (const r of list ?? []) {
      const d = r.origin.pin - best!.origin.pin || compareVersions(r.version, best!.version);
      if (d > 0) best = r;
    }
    const inst = best && installedBy.get(best.package);
    if (best && inst && best.origin.pin < 1000 && compareVersions(best.version, inst.version) < 0) best = undefined;
    chosen.set(k, best ?? null);
    return best;
  };
  const excluded = new Set(req.exclude);

  // Requested versions (`name=version`) replace the candidate, as apt-get does.
  const roots: PackageRecord[] = [];
  for (const spec of req.packages) {
    const m = /^([^:=]+)(?::([^=]+))?(?:=(.+))?$/.exec(spec)!;
    const name = m[1]!;
    const k = keyOf(name, m[2] ?? native);
    const list = versions.get(k);
    if (!list) {
      const provided = universe.some((r) => parseRelations(r.provides).some((g) => g.some((x) => x.name === name)));
      throw new ClosureError(
        'NOT_FOUND',
        name,
        provided
          ? `${name} is a virtual package: request one of the packages that provide it`
          : `no package ${name} for ${m[2] ?? native} in the configured sources`,
      );
    }
    let root = candidateOf(k);
    if (m[3]) {
      const v = list.find((r) => r.version === m[3]);
      if (!v) {
        throw new ClosureError('VERSION_NOT_FOUND', name, `${name}=${m[3]} is not in the sources (available: ${[...new Set(list.map((r) => r.version))].join(', ')})`);
      }
      chosen.set(k, (root = v));
    }
    if (root) roots.push(root); // else the box already has a newer version: nothing to do
  }

  // Virtual packages: only candidate versions provide (apt's VersionVector::FromDependency with CANDIDATE).
  const providers = new Map<string, { rec: PackageRecord; version?: string }[]>();
  for (const r of universe) {
    if (!r.provides || !archOK.has(r.architecture)) continue;
    for (const g of parseRelations(r.provides)) {
      for (const p of g) {
        let l = providers.get(p.name);
        if (!l) providers.set(p.name, (l = []));
        l.push({ rec: r, ...(p.version ? { version: p.version } : {}) });
      }
    }
  }
  const installedProvides = new Map<string, (string | undefined)[]>();
  for (const i of installed) {
    for (const g of parseRelations(i.provides)) for (const p of g) installedProvides.set(p.name, [...(installedProvides.get(p.name) ?? []), p.version]);
  }

  const marked = new Map<string, PackageRecord>();
  const markedProvides = new Map<string, (string | undefined)[]>();
  const why: ResolveResult['why'] = new Map();

  const versionOK = (v: string, rel: Relation) => !rel.op || satisfies(v, rel.op, rel.version!);
  // Debian Policy §7.5: an unversioned Provides never satisfies a versioned dependency.
  const providedOK = (v: string | undefined, rel: Relation) => !rel.op || (v !== undefined && satisfies(v, rel.op, rel.version!));

  const satisfiedNow = (rel: Relation): boolean => {
    if (excluded.has(rel.name)) return true;
    const m = marked.get(keyOf(rel.name, native));
    if (m) {
      if (versionOK(m.version, rel)) return true;
    } else {
      const i = installedBy.get(rel.name);
      if (i && versionOK(i.version, rel)) return true;
    }
    if ((markedProvides.get(rel.name) ?? []).some((v) => providedOK(v, rel))) return true;
    return (installedProvides.get(rel.name) ?? []).some((v) => providedOK(v, rel));
  };

  // Conflicts and Breaks are two-way: the new package's against what is marked, and what is marked against it.
  // `against` indexes the marked packages' Conflicts/Breaks by the name they target.
  const against = new Map<string, { rel: Relation; from: string }[]>();
  const relationsOf = (p: { conflicts?: string; breaks?: string }) => [...parseRelations(p.conflicts), ...parseRelations(p.breaks)].flat();
  const providedNames = (p: { provides?: string }) => parseRelations(p.provides).flat().map((x) => x.name);
  const conflicts = (p: PackageRecord): boolean => {
    for (const r of against.get(p.package) ?? []) if (r.from !== p.package && versionOK(p.version, r.rel)) return true;
    for (const n of providedNames(p)) for (const r of against.get(n) ?? []) if (r.from !== p.package && !r.rel.op) return true;
    for (const r of relationsOf(p)) {
      if (r.name === p.package) continue;
      const q = marked.get(keyOf(r.name, native));
      if (q && versionOK(q.version, r)) return true;
      if (!r.op && markedProvides.has(r.name) && !providedNames(p).includes(r.name)) return true;
    }
    return false;
  };

  // apt's CompareProviders: the package named by the dependency first, then Essential, native architecture,
  // higher Priority, and finally the later package ID.
  const compareProviders = (target: string) => (a: PackageRecord, b: PackageRecord) => {
    if ((a.package === target) !== (b.package === target)) return a.package === target ? -1 : 1;
    if (Boolean(a.essential) !== Boolean(b.essential)) return a.essential ? -1 : 1;
    const an = a.architecture === native || a.architecture === 'all';
    const bn = b.architecture === native || b.architecture === 'all';
    if (an !== bn) return an ? -1 : 1;
    const pa = PRIORITY_RANK[a.priority ?? ''] ?? 6;
    const pb = PRIORITY_RANK[b.priority ?? ''] ?? 6;
    if (pa !== pb) return pa - pb;
    return (firstSeen.get(b.package) ?? 0) - (firstSeen.get(a.package) ?? 0);
  };

  const targetsFor = (rel: Relation): PackageRecord[] => {
    const out: PackageRecord[] = [];
    const c = candidateOf(keyOf(rel.name, native));
    if (c && versionOK(c.version, rel)) out.push(c);
    for (const p of providers.get(rel.name) ?? []) {
      if (candidateOf(keyOf(p.rec.package, p.rec.architecture)) !== p.rec) continue;
      if (providedOK(p.version, rel) && !out.includes(p.rec)) out.push(p.rec);
    }
    return out.sort(compareProviders(rel.name));
  };

  const mark = (p: PackageRecord, by: string, field: Field | 'request') => {
    marked.set(keyOf(p.package, p.architecture), p);
    for (const rel of relationsOf(p)) against.set(rel.name, [...(against.get(rel.name) ?? []), { rel, from: p.package }]);
    for (const g of parseRelations(p.provides)) for (const x of g) markedProvides.set(x.name, [...(markedProvides.get(x.name) ?? []), x.version]);
    if (!why.has(keyOf(p.package, p.architecture))) why.set(keyOf(p.package, p.architecture), { by, field });
  };

  const chainOf = (key: string): string[] => {
    const out: string[] = [];
    for (let k: string | undefined = key; k && out.length < 50; ) {
      out.push(k.replace(/:[^:]+$/, ''));
      const w = why.get(k);
      k = w && w.field !== 'request' ? w.by : undefined;
    }
    return out;
  };

  const installDeps = (p: PackageRecord) => {
    const pk = keyOf(p.package, p.architecture);
    const groups: [Field, Relation[]][] = [
      ...parseRelations(p.preDepends).map((g): [Field, Relation[]] => ['Pre-Depends', g]),
      ...parseRelations(p.depends).map((g): [Field, Relation[]] => ['Depends', g]),
      ...(req.recommends ? parseRelations(p.recommends).map((g): [Field, Relation[]] => ['Recommends', g]) : []),
    ];
    for (const [field, group] of groups) {
      if (group.some(satisfiedNow)) continue;
      let done = false;
      for (const rel of group) {
        for (const t of targetsFor(rel)) {
          const tk = keyOf(t.package, t.architecture);
          if (marked.has(tk)) continue; // another version is already marked
          if (conflicts(t)) continue;
          const inst = installedBy.get(t.package);
          mark(t, pk, field);
          if (!inst || inst.version !== t.version) installDeps(t);
          done = true;
          break;
        }
        if (done) break;
      }
      if (!done && field !== 'Recommends') {
        const text = group.map((r) => `${r.name}${r.op ? ` (${r.op} ${r.version})` : ''}`).join(' | ');
        const chain = chainOf(pk);
        const have = group
          .map((r) => installedBy.get(r.name))
          .filter((i): i is InstalledRecord => i !== undefined)
          .map((i) => `the target has ${i.package} ${i.version}`);
        throw new ClosureError(
          'UNSATISFIABLE',
          p.package,
          `${p.package} ${p.version} ${field} ${text}, which no package in the sources satisfies${have.length ? ` (${have.join(', ')})` : ''} (needed by: ${chain.join(' ← ')})`,
          text,
          chain,
        );
      }
    }
  };

  for (const r of roots) mark(r, '(requested)', 'request');
  for (const r of roots) {
    const inst = installedBy.get(r.package);
    if (!inst || inst.version !== r.version) installDeps(r);
  }

  const packages = [...marked.values()]
    .filter((p) => !excluded.has(p.package) && installedBy.get(p.package)?.version !== p.version)
    .sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : a.architecture < b.architecture ? -1 : 1));
  return { packages, why };
}
