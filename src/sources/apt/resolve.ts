import type { AptPackageRecord, StatusRecord } from './deb822.js';
import { formatRelation, parseRelations, type Relation } from './relations.js';
import type { InstalledRecord, PackageRecord, ResolveRequest, ResolveResult } from './types.js';
import { compareVersions } from './version.js';

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
    this.name = 'ClosureError';
    this.package = pkg;
  }
}

/*
 * This is a port of the part of apt 2.6 that `apt-get install <packages>` runs to decide what to install:
 * the package cache as apt-pkg/pkgcachegen.cc and deb/deblistparser.cc build it (groups, packages per
 * architecture, implicit Multi-Arch provides, package IDs in the order names are first met), the candidate
 * policy of apt-pkg/policy.cc, and apt-pkg/depcache.cc's MarkInstall with everything it calls
 * (CollectDependencies, RemoveConflictsIfNotUpgradeable, CollectReverseDepends, UpgradeOtherBinaries,
 * InstallDependencies, getAllPossibleSolutions, CompareProviders, IsInstallOk…), driven the way
 * apt-private/private-install.cc drives it (mark every request without dependencies, then each with
 * dependencies), followed by DoAutomaticRemove's dropping of new installs that ended up unneeded.
 *
 * apt caches the state of every dependency and refreshes it only when the state of its target package (or
 * of a package providing it) is updated; a few steps (discarding a candidate) change a package without such
 * an update, and apt then decides on the stale state. That is reproduced with timestamped histories of each
 * package's candidate and install version and the time each dependency target was last refreshed.
 *
 * When marking leaves a package broken apt runs its scored problem resolver (apt-pkg/algorithms.cc); this
 * port reports the broken dependency instead (ClosureError UNSATISFIABLE). That happens when a request cannot
 * be satisfied at all (apt refuses too), and in the rarer case where an installed package of the target must
 * be upgraded or removed for reasons MarkInstall does not handle itself (say, its own Breaks against a newer
 * version the closure brings): apt would then change it, this port names it.
 *
 * Also not reproduced: apt_preferences per package (only the pin of each index), `pkg/release` requests,
 * APT::NeverAutoRemove patterns (they only matter to the autoremove of kernel packages).
 */

const MA_ALL = 1;
const MA_FOREIGN = 2;
const MA_SAME = 4;
const MA_ALLOWED = 8;

const T_DEPENDS = 1;
const T_PREDEPENDS = 2;
const T_SUGGESTS = 3;
const T_RECOMMENDS = 4;
const T_CONFLICTS = 5;
const T_REPLACES = 6;
const T_BREAKS = 8;
const T_ENHANCES = 9;

const OP_NONE = 0;
const OP_LE = 1;
const OP_GE = 2;
const OP_LT = 3;
const OP_GT = 4;
const OP_EQ = 5;
const OP_NE = 6;
const F_OR = 0x10;
const F_IMPLICIT = 0x20;
const F_ARCHSPECIFIC = 0x40;

const MODE_KEEP = 0;
const MODE_INSTALL = 1;
const MODE_DELETE = 2;

const NONE_V: Ver[] = [];

const PRIORITY: Record<string, number> = { required: 1, important: 2, standard: 3, optional: 4, extra: 5 };

type Field = 'Depends' | 'Pre-Depends' | 'Recommends';

interface Group {
  name: string;
  /** Its packages (one per architecture), listed when first needed. */
  pkgs: Pkg[] | null;
}

interface Pkg {
  /** apt's package ID (creation order), computed when first needed; -1 until then. */
  id: number;
  group: Group;
  /** A Debian architecture, or "any" for the pkg:any / pkg:arch packages qualified dependencies point at. */
  arch: string;
  /** Highest version first. */
  versions: Ver[];
  /** Provides that point at this package, computed when first needed. */
  provides: Prv[] | null;
  essential: boolean;
  important: boolean;
  current: Ver | null;
  hold: boolean;
  // dependency cache state (pkgDepCache::StateCache)
  cand: Ver | null;
  inst: Ver | null;
  /** Changes of cand / inst after the initial state: [time, version, time, version, …] (null until one). */
  candH: (number | Ver | null)[] | null;
  instH: (number | Ver | null)[] | null;
  cand0: Ver | null;
  inst0: Ver | null;
  /** Times of pkgDepCache::Update(Pkg) calls. */
  refreshLog: number[] | null;
  mode: number;
  status: number;
  protect: boolean;
  auto: boolean;
  marked: boolean;
  touched: boolean;
  /** Named in `exclude`. */
  excluded: boolean;
}

interface Ver {
  id: number;
  pkg: Pkg;
  str: string;
  /** Index of the stanza that created the version (its relationship fields are the ones apt keeps). */
  def: number;
  /** Packages stanzas of this version, in universe order. */
  recs: AptPackageRecord[];
  status?: StatusRecord;
  ma: number;
  priority: number;
  pin: number;
  srcName: string;
  srcVer: string;
  deps?: Dep[];
  groups?: Dep[][];
}

interface Dep {
  ver: Ver;
  target: Pkg;
  op: number;
  str?: string;
  type: number;
  rel?: Relation;
}

interface Prv {
  ver: Ver;
  target: Pkg;
  str?: string;
  flags: number;
}

type RelSource = Pick<AptPackageRecord, 'preDepends' | 'depends' | 'conflicts' | 'breaks' | 'recommends' | 'suggests' | 'replaces' | 'enhances' | 'provides'>;

const DEP_FIELDS: [keyof RelSource, number][] = [
  ['preDepends', T_PREDEPENDS],
  ['depends', T_DEPENDS],
  ['conflicts', T_CONFLICTS],
  ['breaks', T_BREAKS],
  ['recommends', T_RECOMMENDS],
  ['suggests', T_SUGGESTS],
  ['replaces', T_REPLACES],
  ['enhances', T_ENHANCES],
];

/**
 * Calls back with the name and architecture qualifier of each alternative of a relationship field, in order,
 * without building relations (used on every stanza to number packages as apt does).
 */
function scanNames(field: string, cb: (name: string, arch: string | undefined) => void): void {
  const n = field.length;
  let i = 0;
  while (i < n) {
    let c = field.charCodeAt(i);
    if (c === 0x2c || c === 0x7c || c <= 0x20) {
      i++;
      continue;
    }
    const s = i;
    let colon = -1;
    while (i < n) {
      c = field.charCodeAt(i);
      // white space ( ) , | [ ] < >
      if (c <= 0x20 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x7c || c === 0x5b || c === 0x5d || c === 0x3c || c === 0x3e) break;
      if (c === 0x3a) colon = i;
      i++;
    }
    if (i > s) {
      if (colon > s) cb(field.slice(s, colon), field.slice(colon + 1, i));
      else cb(field.slice(s, i), undefined);
    }
    while (i < n) {
      c = field.charCodeAt(i);
      if (c === 0x2c || c === 0x7c) break;
      i++;
    }
  }
}

const hashCache = new WeakMap<object, number>();
/**
 * debListParser::VersionHash: over Installed-Size, Depends, Pre-Depends, Conflicts, Breaks and Replaces, with
 * white space, '=' and "0:" epochs dropped and letters lower-cased (so dpkg's reformatting does not matter).
 */
function versionHash(rec: AptPackageRecord | StatusRecord): number {
  const hit = hashCache.get(rec);
  if (hit !== undefined) return hit;
  let h = 5381;
  const isz = rec.installedSize;
  for (const text of [isz === undefined ? undefined : String(isz), rec.depends, rec.preDepends, rec.conflicts, rec.breaks, rec.replaces]) {
    if (!text) continue;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x30 && text.charCodeAt(i + 1) === 0x3a) {
        i++;
        continue;
      }
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c || c === 0x3d) continue;
      h = (Math.imul(h, 33) + (c >= 0x41 && c <= 0x5a ? c + 32 : c)) >>> 0;
    }
  }
  hashCache.set(rec, h);
  return h;
}

function relOp(op: Relation['op']): number {
  switch (op) {
    case '<=':
      return OP_LE;
    case '>=':
      return OP_GE;
    case '<<':
      return OP_LT;
    case '>>':
      return OP_GT;
    case '=':
      return OP_EQ;
    default:
      return OP_NONE;
  }
}

function opHolds(op: number, cmp: number): boolean {
  switch (op & 0x0f) {
    case OP_LE:
      return cmp <= 0;
    case OP_GE:
      return cmp >= 0;
    case OP_LT:
      return cmp < 0;
    case OP_GT:
      return cmp > 0;
    case OP_EQ:
      return cmp === 0;
    case OP_NE:
      return cmp !== 0;
    default:
      return true;
  }
}

const isNegative = (d: Dep) => d.type === T_BREAKS || d.type === T_CONFLICTS;
const isCritical = (d: Dep) => isNegative(d) || d.type === T_DEPENDS || d.type === T_PREDEPENDS;
const fieldName = (d: Dep): Field => (d.type === T_PREDEPENDS ? 'Pre-Depends' : d.type === T_RECOMMENDS ? 'Recommends' : 'Depends');
const keyOfVer = (v: Ver) => `${v.pkg.group.name}:${v.ma & MA_ALL ? 'all' : v.pkg.arch}`;

/**
 * Computes what `apt-get install -s <packages>` installs for the same sources (universe, in the order apt
 * reads the index files) and target status, by apt 2.6's own algorithm (see the comment above).
 */
export function resolveClosure(universe: readonly PackageRecord[], installed: readonly InstalledRecord[], req: ResolveRequest): ResolveResult {
  const native = req.architectures[0] ?? 'amd64';
  const configured = new Set(req.architectures.length ? req.architectures : [native]);
  const archOrder = [...configured];
  const checkArch = (a: string) => a === 'all' || configured.has(a);
  const installRecommends = req.recommends;
  const excluded = new Set(req.exclude);

  // ---------------------------------------------------------------- the package cache (pkgcachegen.cc)
  // apt builds every package of every index; here packages are built when first looked at, from an index of
  // the stanzas by name and by provided name, to the same final shape (see providesOf for the Multi-Arch
  // rules). Of the 60,000 packages of Debian main a closure touches a few thousand.
  const stanzas: (AptPackageRecord | StatusRecord)[] = [];
  const byName = new Map<string, number[]>();
  const provIdx = new Map<string, number[]>();
  const index = (rec: AptPackageRecord | StatusRecord) => {
    const i = stanzas.length;
    stanzas.push(rec);
    const l = byName.get(rec.package);
    if (l) l.push(i);
    else byName.set(rec.package, [i]);
    if (rec.provides) {
      let last = '';
      for (const g of parseRelations(rec.provides)) {
        for (const r of g) {
          if (r.name === last) continue;
          last = r.name;
          const pl = provIdx.get(r.name);
          if (!pl) provIdx.set(r.name, [i]);
          else if (pl[pl.length - 1] !== i) pl.push(i);
        }
      }
    }
  };
  for (const r of universe) if (checkArch(r.architecture)) index(r as AptPackageRecord);
  const nUniverse = stanzas.length;
  for (const i of installed) index(i as StatusRecord);

  const normArch = (a: string) => (a === 'all' || a === 'native' ? native : a);
  const groups = new Map<string, Group>();
  const pkgByKey = new Map<string, Pkg>();
  const pkgs: Pkg[] = [];
  const verOfStanza: (Ver | undefined)[] = new Array(stanzas.length);
  let verCount = 0;

  const getGroup = (name: string): Group => {
    let g = groups.get(name);
    if (!g) {
      g = { name, pkgs: null };
      groups.set(name, g);
    }
    return g;
  };
  /** The packages apt has in a group: one per architecture with stanzas, and the native one. */
  const groupPkgs = (g: Group): Pkg[] => {
    if (g.pkgs) return g.pkgs;
    if (g.name.includes(':')) return (g.pkgs = [getPkg(g.name, 'any')]);
    const arches: string[] = [native];
    for (const i of byName.get(g.name) ?? []) {
      const a = normArch(stanzas[i]!.architecture);
      if (!arches.includes(a)) arches.push(a);
    }
    return (g.pkgs = arches.map((a) => getPkg(g.name, a)));
  };

  const maFlags = (ma: PackageRecord['multiArch'], arch: string): number => {
    const all = arch === 'all';
    let f = ma === 'same' ? (all ? 0 : MA_SAME) : ma === 'foreign' ? MA_FOREIGN : ma === 'allowed' ? MA_ALLOWED : 0;
    if (all) f |= MA_ALL;
    return f;
  };
  const sourceOf = (name: string, version: string, source: string | undefined): [string, string] => {
    if (!source) return [name, version];
    const m = /^(\S+)(?:\s*\(\s*([^)\s]+)\s*\))?/.exec(source.trim());
    return m ? [m[1]!, m[2] ?? version] : [name, version];
  };

  function getPkg(name: string, arch: string): Pkg {
    const a = normArch(arch);
    const key = `${name}\0${a}`;
    const hit = pkgByKey.get(key);
    if (hit) return hit;
    const p: Pkg = {
      id: -1,
      group: getGroup(name),
      arch: a,
      versions: NONE_V,
      provides: null,
      essential: false,
      important: false,
      current: null,
      hold: false,
      cand: null,
      inst: null,
      candH: null,
      instH: null,
      cand0: null,
      inst0: null,
      refreshLog: null,
      mode: MODE_KEEP,
      status: 2,
      protect: false,
      auto: false,
      marked: false,
      touched: false,
      excluded: excluded.has(name),
    };
    pkgByKey.set(key, p);
    pkgs.push(p);
    if (a !== 'any') {
      // its versions, in the order apt merges them: highest first, equal ones merged
      const versions: Ver[] = [];
      for (const i of byName.get(name) ?? []) {
        const rec = stanzas[i]!;
        if (normArch(rec.architecture) !== a) continue;
        const fromStatus = i >= nUniverse;
        // the same version string from another stanza is the same version when apt's VersionHash and the
        // Multi-Arch field agree (a status stanza has no Size; two index stanzas must also agree on Size)
        const ma = maFlags(rec.multiArch, rec.architecture);
        let v: Ver | undefined;
        for (const x of versions) {
          if (x.str !== rec.version || x.ma !== ma) continue;
          const d = stanzas[x.def]!;
          if (versionHash(d) !== versionHash(rec)) continue;
          if (!fromStatus && x.def < nUniverse && (d as PackageRecord).size && (rec as PackageRecord).size !== (d as PackageRecord).size) continue;
          v = x;
          break;
        }
        if (v === undefined) {
          const [srcName, srcVer] = sourceOf(rec.package, rec.version, rec.source);
          v = {
            id: verCount++,
            pkg: p,
            str: rec.version,
            def: i,
            recs: [],
            ma,
            priority: rec.priority ? (PRIORITY[rec.priority.toLowerCase()] ?? 5) : 0,
            pin: -Infinity,
            srcName,
            srcVer,
          };
          let at = versions.length;
          for (let k = 0; k < versions.length; k++) {
            const c = compareVersions(rec.version, versions[k]!.str);
            // higher first; an equal one from an index goes above one known only from the status file
            if (c > 0 || (c === 0 && !fromStatus && versions[k]!.recs.length === 0)) {
              at = k;
              break;
            }
          }
          versions.splice(at, 0, v);
        }
        const ver: Ver = v;
        verOfStanza[i] = ver;
        if (!fromStatus) {
          ver.recs.push(rec as AptPackageRecord);
          ver.pin = Math.max(ver.pin, (rec as PackageRecord).origin.pin);
        } else {
          ver.status ??= rec as StatusRecord;
          p.current = ver;
          if ((rec as StatusRecord).hold) p.hold = true;
        }
        if (rec.essential) p.essential = true;
        if ((rec as AptPackageRecord).important) p.important = true;
      }
      if (versions.length) p.versions = versions;
      if (name === 'apt') p.essential = p.important = true; // pkgCacheGen::ForceEssential
      // `exclude`: as if installed at its candidate (never bundled; what it needs is not pulled in)
      if (!p.current && excluded.has(name)) p.current = policyCandidate(p);
    }
    p.cand = p.cand0 = p.versions.length ? policyCandidate(p) : null;
    p.inst = p.inst0 = p.current;
    p.status = statusOf(p);
    return p;
  }
  const verOf = (i: number): Ver => {
    const v = verOfStanza[i];
    if (v) return v;
    const rec = stanzas[i]!;
    getPkg(rec.package, rec.architecture);
    return verOfStanza[i]!;
  };

  /** The architecture apt files a version's dependencies under: "all" for Architecture: all. */
  const verArch = (v: Ver) => (v.ma & MA_ALL ? 'all' : v.pkg.arch);
  /** ListParser::NewProvides does not record a package providing itself (same name, arch and version). */
  const selfProvides = (v: Ver, name: string, arch: string, str: string | undefined) =>
    v.pkg.group.name === name && (arch === v.pkg.arch || (arch === 'all' && v.pkg.arch === native)) && (!str || str === v.str);

  /**
   * What provides a package, as apt's cache ends up after debListParser::ParseProvides (explicit provides,
   * M-A:allowed providing pkg:any, M-A:foreign providing every architecture) and NewPackage (siblings).
   */
  const providesOf = (t: Pkg): Prv[] => {
    if (t.provides) return t.provides;
    const out: Prv[] = [];
    const add = (ver: Ver, flags: number, str: string | undefined) => out.push({ ver, target: t, flags, ...(str ? { str } : {}) });
    const gname = t.group.name;
    const colon = gname.indexOf(':');
    const base = t.arch === 'any' && colon > 0 ? gname.slice(0, colon) : gname;
    const qual = t.arch === 'any' && colon > 0 ? gname.slice(colon + 1) : undefined;
    for (const i of provIdx.get(base) ?? []) {
      const v = verOf(i);
      if (v.def !== i) continue; // apt reads the provides of the first stanza of a version
      const arch = verArch(v);
      const barbarian = !checkArch(arch);
      for (const g of parseRelations(stanzas[i]!.provides)) {
        for (const r of g) {
          if (r.name !== base || (r.op && r.op !== '=')) continue;
          const str = r.op ? r.version : undefined;
          if (qual === undefined) {
            // a real package: base of architecture t.arch
            if (r.arch) {
              if (r.arch !== 'any' && normArch(r.arch) === t.arch && !selfProvides(v, base, r.arch, str)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
            } else if (v.ma & MA_FOREIGN) {
              if (!barbarian) add(v, 0, str);
              else if (v.pkg.arch === t.arch && !selfProvides(v, base, arch, str)) add(v, 0, str);
            } else if (normArch(arch) === t.arch && !selfProvides(v, base, arch, str)) add(v, 0, str);
          } else if (qual === 'any') {
            if (r.arch === 'any') add(v, F_ARCHSPECIFIC, str);
            else if (!r.arch && !(v.ma & MA_FOREIGN) && v.ma & MA_ALLOWED && !barbarian) add(v, F_IMPLICIT, str);
          } else {
            if (r.arch && normArch(r.arch) === normArch(qual)) add(v, F_ARCHSPECIFIC, str);
            else if (!r.arch && v.pkg.arch === normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
          }
        }
      }
    }
    // Multi-Arch implicit provides by the versions of the named package
    for (const i of byName.get(base) ?? []) {
      const v = verOf(i);
      if (v.def !== i) continue;
      if (qual === undefined) {
        if (v.pkg !== t && v.ma & MA_FOREIGN && checkArch(v.pkg.arch)) add(v, F_IMPLICIT, v.str);
      } else if (qual === 'any') {
        if (v.ma & MA_ALLOWED && checkArch(verArch(v))) add(v, F_IMPLICIT, v.str);
      } else if (v.pkg.arch === normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, v.str);
    }
    return (t.provides = out);
  };

  // Package IDs: the order apt's cache generator creates packages in (stanzas in index order; each
  // stanza's package, then the targets of its Pre-Depends, Depends, Conflicts, Breaks, Recommends,
  // Suggests, Replaces, Enhances, then Provides). They only decide between two providers that tie on
  // everything else (CompareProviders' last rule), so only packages that have Provides are numbered, stanzas
  // are scanned only as far as the packages asked about need, and a hash filter passes over other names
  // without cutting them out.
  const FILTER_BITS = 1 << 20;
  let idState:
    | {
        filter: Uint8Array;
        wanted: Set<string>;
        m: Map<string, number>;
        created: Set<string>;
        next: number;
        scan: (rec: AptPackageRecord | StatusRecord) => void;
      }
    | undefined;
  const initIds = () => {
    const filter = new Uint8Array(FILTER_BITS >> 3);
    const wanted = new Set<string>();
    for (const list of provIdx.values()) {
      for (const i of list) {
        const name = stanzas[i]!.package;
        if (wanted.has(name)) continue;
        wanted.add(name);
        let h = 0x811c9dc5;
        for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 16777619);
        const hb = (h ^ name.length) & (FILTER_BITS - 1);
        filter[hb >> 3]! |= 1 << (hb & 7);
      }
    }
    const m = new Map<string, number>(); // name (native) or name\0arch -> creation order
    const created = new Set<string>(); // wanted names with a package of any architecture
    let n = 0;
    const create = (name: string, arch: string) => {
      const a = normArch(arch);
      const key = a === native ? name : `${name}\0${a}`;
      if (m.has(key)) return;
      m.set(key, n++);
      created.add(name);
    };
    let pkgArch = native;
    let negative = false;
    let barbarian = false;
    const mention = (name: string, arch: string | undefined) => {
      if (arch === undefined) {
        if (!negative || !created.has(name)) create(name, pkgArch);
      } else if (arch === 'any') {
        if (barbarian && (!negative || !created.has(name))) create(name, pkgArch);
      } else create(name, arch === 'native' ? native : arch); // created with the name:arch package
    };
    const scanField = (t: string) => {
      const len = t.length;
      let i = 0;
      while (i < len) {
        let c = t.charCodeAt(i);
        if (c === 0x2c || c === 0x7c || c <= 0x20) {
          i++;
          continue;
        }
        const s0 = i;
        let colon = -1;
        let h = 0x811c9dc5;
        while (i < len) {
          c = t.charCodeAt(i);
          // white space ( ) , | [ ] < >
          if (c <= 0x20 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x7c || c === 0x5b || c === 0x5d || c === 0x3c || c === 0x3e) break;
          if (c === 0x3a) {
            if (colon < 0) colon = i;
          } else if (colon < 0) h = Math.imul(h ^ c, 16777619);
          i++;
        }
        const nameEnd = colon < 0 ? i : colon;
        const hb = (h ^ (nameEnd - s0)) & (FILTER_BITS - 1);
        if (filter[hb >> 3]! & (1 << (hb & 7))) {
          const name = t.slice(s0, nameEnd);
          if (wanted.has(name)) mention(name, colon < 0 ? undefined : t.slice(colon + 1, i));
        }
        while (i < len) {
          c = t.charCodeAt(i);
          if (c === 0x2c || c === 0x7c) break;
          i++;
        }
      }
    };
    const scan = (rec: AptPackageRecord | StatusRecord) => {
      const own = normArch(rec.architecture);
      if (wanted.has(rec.package)) create(rec.package, own);
      pkgArch = rec.architecture === 'all' ? native : own;
      barbarian = !checkArch(rec.architecture);
      const r = rec as RelSource;
      // the fields in the order debListParser::NewVersion reads them
      negative = false;
      if (r.preDepends) scanField(r.preDepends);
      if (r.depends) scanField(r.depends);
      negative = true;
      if (r.conflicts) scanField(r.conflicts);
      if (r.breaks) scanField(r.breaks);
      negative = false;
      if (r.recommends) scanField(r.recommends);
      if (r.suggests) scanField(r.suggests);
      negative = true;
      if (r.replaces) scanField(r.replaces);
      negative = false;
      if (r.enhances) scanField(r.enhances);
      if (rec.provides) {
        const foreign = rec.multiArch === 'foreign';
        for (const g of parseRelations(rec.provides)) {
          for (const r of g) {
            if (!wanted.has(r.name) || (r.op && r.op !== '=')) continue;
            const str = r.op ? r.version : undefined;
            const self = (a: string) => rec.package === r.name && normArch(a) === own && (!str || str === rec.version);
            if (r.arch) {
              if (!self(r.arch)) create(r.name, r.arch);
            } else if (foreign && !barbarian) {
              if (!created.has(r.name) && !self(native)) create(r.name, native);
            } else if (!self(pkgArch)) create(r.name, pkgArch);
          }
        }
      }
    };
    return { filter, wanted, m, created, next: 0, scan };
  };
  const pkgId = (p: Pkg): number => {
    if (p.id >= 0) return p.id;
    const st = (idState ??= initIds());
    const key = p.arch === native ? p.group.name : `${p.group.name}\0${p.arch}`;
    let id = st.m.get(key);
    while (id === undefined && st.next < stanzas.length) {
      st.scan(stanzas[st.next++]!);
      id = st.m.get(key);
    }
    return (p.id = id ?? Number.MAX_SAFE_INTEGER);
  };

  // ---------------------------------------------------------------- dependencies, built when first needed
  const buildDeps = (v: Ver): Dep[] => {
    if (v.deps) return v.deps;
    const src: RelSource = stanzas[v.def]!;
    const pkgArch = verArch(v);
    const barbarian = !checkArch(pkgArch);
    const deps: Dep[] = [];
    for (const [field, type] of DEP_FIELDS) {
      if (type === T_REPLACES || type === T_ENHANCES || field === 'provides') continue; // never looked at when marking
      const negative = type === T_BREAKS || type === T_CONFLICTS;
      for (const g of parseRelations(src[field])) {
        const alts: { target: Pkg; op: number; rel: Relation }[] = [];
        for (const r of g) {
          const op = relOp(r.op);
          if (!r.arch) {
            if (negative) for (const t of groupPkgs(getGroup(r.name))) alts.push({ target: t, op, rel: r });
            else alts.push({ target: getPkg(r.name, pkgArch), op, rel: r });
          } else if (r.arch === 'any') {
            alts.push({ target: getPkg(`${r.name}:any`, 'any'), op, rel: r });
            if (barbarian) alts.push({ target: getPkg(r.name, pkgArch), op, rel: r });
          } else {
            alts.push({ target: getPkg(`${r.name}:${r.arch === 'native' ? native : r.arch}`, 'any'), op: op | F_ARCHSPECIFIC, rel: r });
          }
        }
        alts.forEach((a, i) => {
          const or = !negative && i < alts.length - 1 ? F_OR : 0;
          deps.push({ ver: v, target: a.target, op: a.op | or, type, rel: a.rel, ...(a.rel.op ? { str: a.rel.version! } : {}) });
        });
      }
    }
    // Multi-Arch: group members of other architectures conflict (or, for M-A:same, must have this version)
    for (const d of groupPkgs(v.pkg.group)) {
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
  };
  const groupsOf = (v: Ver): Dep[][] => {
    buildDeps(v);
    return v.groups!;
  };

  // ---------------------------------------------------------------- candidate policy (policy.cc)
  const downloadable = (v: Ver) => v.recs.length > 0;
  function verPriority(v: Ver): number {
    let p = v.recs.length ? v.pin : -Infinity;
    if (v.status) p = Math.max(p, v.pkg.current === v ? 100 : -1);
    return p === -Infinity ? 0 : p;
  }
  function policyCandidate(p: Pkg): Ver | null {
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
  function statusOf(p: Pkg): number {
    if (!p.current || p.versions.length === 0 || !p.cand) return 2;
    return Math.sign(compareVersions(p.cand.str, p.current.str));
  }

  // ---------------------------------------------------------------- dependency cache (depcache.cc)
  let clock = 0;
  const setCand = (p: Pkg, v: Ver | null) => {
    if (p.cand === v) return;
    p.cand = v;
    (p.candH ??= []).push(++clock, v);
  };
  const setInst = (p: Pkg, v: Ver | null) => {
    p.touched = true;
    if (p.inst === v) return;
    p.inst = v;
    (p.instH ??= []).push(++clock, v);
  };
  const candAt = (p: Pkg, t: number): Ver | null => {
    const h = p.candH;
    if (!h) return p.cand0;
    for (let i = h.length - 2; i >= 0; i -= 2) if ((h[i] as number) <= t) return h[i + 1] as Ver | null;
    return p.cand0;
  };
  const instAt = (p: Pkg, t: number): Ver | null => {
    const h = p.instH;
    if (!h) return p.inst0;
    for (let i = h.length - 2; i >= 0; i -= 2) if ((h[i] as number) <= t) return h[i + 1] as Ver | null;
    return p.inst0;
  };
  /** pkgDepCache::Update(Pkg): refreshes the dependencies on the package and on what it provides. */
  const refresh = (p: Pkg) => {
    (p.refreshLog ??= []).push(++clock);
  };
  /**
   * When the cached state of the dependencies on t was last recomputed: at the last Update of t itself, or of
   * a package whose current or (then) candidate version provides t.
   */
  const refreshedAt = (t: Pkg): number => {
    let best = t.refreshLog ? t.refreshLog[t.refreshLog.length - 1]! : 0;
    for (const prv of providesOf(t)) {
      const p = prv.ver.pkg;
      const log = p.refreshLog;
      if (!log) continue;
      for (let i = log.length - 1; i >= 0; i--) {
        const at = log[i]!;
        if (at <= best) break;
        if (p.current === prv.ver || candAt(p, at) === prv.ver) {
          best = at;
          break;
        }
      }
    }
    return best;
  };

  const isExcludedTarget = (d: Dep): boolean => {
    if (excluded.size === 0 || isNegative(d)) return false;
    const n = d.target.group.name;
    const colon = n.indexOf(':');
    return excluded.has(colon > 0 ? n.slice(0, colon) : n);
  };
  const ignorablePkg = (d: Dep, t: Pkg): boolean => {
    if (!isNegative(d)) return false;
    const pp = d.ver.pkg;
    if (pp.group !== t.group) return false;
    if (pp === t) return true;
    if (d.ver.ma & MA_SAME) return (d.op & F_IMPLICIT) === 0;
    return false;
  };
  const ignorablePrv = (d: Dep, prv: Prv): boolean => {
    if (!isNegative(d)) return false;
    if (prv.ver.pkg.group === d.ver.pkg.group) return true;
    if (d.op & F_IMPLICIT) return true;
    return false;
  };
  const satisfiesVer = (d: Dep, v: string): boolean => d.str === undefined || opHolds(d.op, compareVersions(v, d.str));
  const satisfiesPrv = (d: Dep, prv: Prv): boolean => d.str === undefined || (prv.str !== undefined && opHolds(d.op, compareVersions(prv.str, d.str)));

  /** pkgDepCache::CheckDep against the current, install or candidate versions (at time t, or now). */
  const checkDep = (d: Dep, which: 0 | 1 | 2, t: number | undefined): boolean => {
    if (isExcludedTarget(d)) return true;
    const of = (p: Pkg): Ver | null =>
      which === 0 ? p.current : which === 1 ? (t === undefined ? p.inst : instAt(p, t)) : t === undefined ? p.cand : candAt(p, t);
    const tp = d.target;
    if (!ignorablePkg(d, tp)) {
      const v = of(tp);
      if (v && satisfiesVer(d, v.str)) return true;
    }
    for (const prv of providesOf(tp)) {
      if (ignorablePrv(d, prv)) continue;
      if (of(prv.ver.pkg) !== prv.ver) continue;
      if (satisfiesPrv(d, prv)) return true;
    }
    return false;
  };
  // The cached DepState bits (inverted for Conflicts/Breaks: set means "no conflict").
  const bitNow = (d: Dep) => checkDep(d, 0, undefined) !== isNegative(d);
  const bitInst = (d: Dep) => checkDep(d, 1, refreshedAt(d.target)) !== isNegative(d);
  const bitCVer = (d: Dep) => checkDep(d, 2, refreshedAt(d.target)) !== isNegative(d);
  const rawCVer = (d: Dep) => checkDep(d, 2, refreshedAt(d.target));

  const isImportant = (d: Dep) => isCritical(d) || (d.type === T_RECOMMENDS && installRecommends);

  /** DepInstMin / DepInstPolicy of a package: its install version's critical / important groups. */
  const instBrokenness = (p: Pkg): { min: boolean; policy: boolean } => {
    const v = p.inst;
    if (!v || p.excluded) return { min: false, policy: false };
    let policy = false;
    for (const g of groupsOf(v)) {
      const first = g[0]!;
      const crit = isCritical(first);
      if (!crit && !isImportant(first)) continue;
      if (g.some(bitInst)) continue;
      if (crit) return { min: true, policy: true };
      policy = true;
    }
    return { min: false, policy };
  };
  const nowBroken = (p: Pkg): boolean => {
    const v = p.current;
    if (!v || p.excluded) return false;
    for (const g of groupsOf(v)) if (isCritical(g[0]!) && !g.some(bitNow)) return true;
    return false;
  };

  // CompareProviders: the order in which apt tries the versions that could satisfy a dependency.
  const groupInstalled = new Map<Group, boolean>();
  const anyInstalledIn = (g: Group): boolean => {
    let r = groupInstalled.get(g);
    if (r === undefined) groupInstalled.set(g, (r = groupPkgs(g).some((p) => p.current !== null)));
    return r;
  };
  const compareProviders =
    (target: Pkg) =>
    (av: Ver, bv: Ver): number => {
      const a = av.pkg;
      const b = bv.pkg;
      if (a.protect !== b.protect) return a.protect ? -1 : 1;
      if (av.ma & MA_SAME || bv.ma & MA_SAME) {
        const ia = (av.ma & MA_SAME) !== 0 && anyInstalledIn(a.group);
        const ib = (bv.ma & MA_SAME) !== 0 && anyInstalledIn(b.group);
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
      return pkgId(b) - pkgId(a);
    };

  const CANDIDATE = 0;
  const INSTALLED = 1;
  const CANDANDINST = 2;
  const fromDependency = (d: Dep, selector: number): Ver[] => {
    if (selector === CANDANDINST) return [...fromDependency(d, CANDIDATE), ...fromDependency(d, INSTALLED)];
    if (selector === CANDIDATE && !rawCVer(d)) return [];
    const of = (p: Pkg) => (selector === CANDIDATE ? p.cand : p.current);
    const out: Ver[] = [];
    const t = d.target;
    const tv = of(t);
    if (tv && !ignorablePkg(d, t) && satisfiesVer(d, tv.str)) out.push(tv);
    for (const prv of providesOf(t)) {
      if (ignorablePrv(d, prv)) continue;
      const v = of(prv.ver.pkg);
      if (prv.ver === v && satisfiesPrv(d, prv)) out.push(v);
    }
    return out;
  };
  const getAllPossibleSolutions = (g: Dep[], selector: number, sorted: boolean): Ver[] => {
    let toUpgrade: Ver[] = [];
    const toNew: Ver[] = [];
    for (const d of g) {
      const list = fromDependency(d, selector);
      if (!sorted) {
        toUpgrade.push(...list);
        continue;
      }
      list.sort(compareProviders(d.target));
      for (const v of list) (v.pkg.current ? toUpgrade : toNew).push(v);
    }
    toUpgrade = toUpgrade.length ? toUpgrade.concat(toNew) : toNew;
    if (!sorted) toUpgrade.sort((a, b) => a.id - b.id);
    const uniq = toUpgrade.filter((v, i) => i === 0 || toUpgrade[i - 1] !== v);
    if (isNegative(g[g.length - 1]!)) return uniq;
    return uniq.filter((v) => !(v.pkg.protect && (v.pkg.mode === MODE_DELETE || (v.pkg.mode === MODE_KEEP && !v.pkg.current))));
  };

  // ---------------------------------------------------------------- marking
  const why: ResolveResult['why'] = new Map();
  const pulledBy = new Map<Pkg, { by: Pkg; field: Field }[]>();
  /** Who first tried to install a package (for the chain in error messages). */
  const triedBy = new Map<Pkg, Pkg>();
  const failures = new Map<Pkg, Dep[]>();
  const recordFailure = (p: Pkg, g: Dep[]) => {
    if (!failures.has(p)) failures.set(p, g);
  };

  const isModeChangeOk = (mode: number, p: Pkg, depth: number, fromUser: boolean): boolean => {
    if (depth > 3000) return false;
    if (p.versions.length === 0) return false;
    if (fromUser) return true;
    if (p.mode === mode) return true;
    if (p.protect) return false;
    if (mode !== MODE_KEEP && p.hold) return false;
    if (mode === MODE_DELETE && (p.essential || p.important)) return false;
    return true;
  };
  const isDeleteOk = (p: Pkg, fromUser: boolean): boolean =>
    !(!fromUser && !p.current && p.inst && p.status === 2 && !p.auto);

  const markKeep = (p: Pkg, fromUser: boolean, depth: number): boolean => {
    if (!isModeChangeOk(MODE_KEEP, p, depth, fromUser)) return false;
    if (p.mode === MODE_KEEP) return true;
    p.mode = MODE_KEEP;
    setInst(p, p.current);
    refresh(p);
    return true;
  };
  const markDelete = (p: Pkg, depth: number, fromUser: boolean): boolean => {
    if (!isModeChangeOk(MODE_DELETE, p, depth, fromUser)) return false;
    if (p.mode === MODE_DELETE || !p.inst) return true;
    if (!isDeleteOk(p, fromUser)) return false;
    p.mode = p.current ? MODE_DELETE : MODE_KEEP;
    setInst(p, null);
    refresh(p);
    return true;
  };
  const setCandidateVersion = (p: Pkg, v: Ver) => {
    if (p.cand === v) return;
    if (p.cand === p.inst && p.mode === MODE_INSTALL) setInst(p, v);
    setCand(p, v);
    p.status = statusOf(p);
    refresh(p);
  };
  const discardCandidate = (p: Pkg) => setCand(p, p.inst); // StateCache::Update keeps the old Status
  const discardInstall = (p: Pkg) => {
    if (p.mode === MODE_KEEP && p.inst === p.cand && p.cand === p.current) return;
    setInst(p, p.current);
    p.mode = MODE_KEEP;
    refresh(p);
    discardCandidate(p);
  };
  const stateChange = (p: Pkg, fromUser: boolean): boolean => {
    if (p.protect && p.inst === p.cand) return true;
    p.mode = MODE_INSTALL;
    setInst(p, p.cand);
    if (fromUser) {
      if (p.status === 2 || p.current) p.auto = false;
    } else if (p.status === 2) p.auto = true;
    if (p.cand === p.current) p.mode = MODE_KEEP;
    refresh(p);
    return true;
  };

  const multiArchSameVersionSynced = (p: Pkg, fromUser: boolean): boolean => {
    if (fromUser) return true;
    if (p.mode === MODE_INSTALL && p.inst === p.cand) return true;
    const cv = p.cand;
    if (!cv || cv === p.current || !(cv.ma & MA_SAME)) return true;
    for (const q of groupPkgs(p.group)) {
      if (!q.current || q === p) continue;
      const qv = q.cand;
      if (!qv || qv.str === cv.str) continue;
      if (!(qv.ma & MA_SAME)) continue;
      if (!downloadable(qv)) continue;
      return false;
    }
    return true;
  };
  const dependenciesSatisfiableByCandidates = (p: Pkg, autoInst: boolean): boolean => {
    if (!autoInst) return true;
    const cv = p.cand;
    if (!cv || cv === p.current) return true;
    for (const g of groupsOf(cv)) {
      const first = g[0]!;
      if (g.some((d) => bitInst(d) || bitCVer(d)) || !isCritical(first) || isNegative(first)) continue;
      recordFailure(p, g);
      if (!p.protect) {
        if (p.current) setCandidateVersion(p, p.current);
        else setCand(p, null);
        if (p.mode !== MODE_DELETE) p.mode = MODE_KEEP;
        p.status = statusOf(p);
      }
      return false;
    }
    return true;
  };
  const isInstallOk = (p: Pkg, autoInst: boolean, fromUser: boolean) =>
    multiArchSameVersionSynced(p, fromUser) && dependenciesSatisfiableByCandidates(p, autoInst);

  const collectDependencies = (pv: Ver, toInstall: Dep[][], toRemove: Dep[]) => {
    const propagate = pv.pkg.protect;
    for (const g of groupsOf(pv)) {
      if (g.some(bitInst) && !propagate) continue;
      const first = g[0]!;
      if (!isImportant(first)) continue;
      if (isNegative(first)) toRemove.push(first);
      else toInstall.push(g);
    }
  };

  const markDeleteForNotUpgradeable = (p: Pkg, propagate: boolean, delayed: Pkg[], depth: number): boolean => {
    if (!propagate) {
      if (p.mode === MODE_DELETE) return true;
      if (!isModeChangeOk(MODE_DELETE, p, depth, false) || !isDeleteOk(p, false)) return false;
      delayed.push(p);
      return true;
    }
    if (p.mode !== MODE_DELETE && !markDelete(p, depth + 1, false)) return false;
    discardCandidate(p);
    p.protect = true;
    return true;
  };
  const removeConflictsIfNotUpgradeable = (
    toRemove: Dep[],
    toUpgrade: Pkg[],
    delayed: Pkg[],
    propagate: boolean,
    fromUser: boolean,
    depth: number,
  ): boolean => {
    let failed = false;
    const bad: Pkg[] = [];
    const stop = () => failed && !propagate && !fromUser;
    for (const d of toRemove) {
      for (const v of getAllPossibleSolutions([d], CANDIDATE, true)) {
        const p = v.pkg;
        if (p.cand !== v) continue;
        if (p.current !== v) {
          if (p.mode === MODE_INSTALL && !markKeep(p, false, depth)) {
            failed = true;
            if (stop()) break;
          } else if (propagate) {
            discardCandidate(p);
            if (!p.current) p.protect = true;
          } else bad.push(p);
        } else if (!markDeleteForNotUpgradeable(p, propagate, delayed, depth)) {
          failed = true;
          if (stop()) break;
        }
      }
      if (stop()) break;
      for (const v of getAllPossibleSolutions([d], INSTALLED, true)) {
        const p = v.pkg;
        if (p.cand !== v && p.cand !== null && !bad.includes(p)) toUpgrade.push(p);
        else if (p.cand === p.current) {
          // handled above
        } else if (!markDeleteForNotUpgradeable(p, propagate, delayed, depth)) {
          failed = true;
          if (stop()) break;
        }
      }
      if (stop()) break;
    }
    return !failed;
  };

  let installedRevDeps: Map<Pkg, Dep[]> | undefined;
  const revDepsOfInstalled = (p: Pkg): Dep[] => {
    if (!installedRevDeps) {
      installedRevDeps = new Map();
      for (const q of pkgs) {
        if (!q.current) continue;
        for (const d of buildDeps(q.current)) {
          let l = installedRevDeps.get(d.target);
          if (!l) installedRevDeps.set(d.target, (l = []));
          l.push(d);
        }
      }
    }
    return installedRevDeps.get(p) ?? [];
  };
  const collectReverseDepends = (pv: Ver, toUpgrade: Pkg[]) => {
    const cur = pv.pkg.current;
    if (!cur) return;
    for (const d of revDepsOfInstalled(pv.pkg)) {
      const parent = d.ver.pkg;
      if (parent.current !== d.ver || parent.mode === MODE_INSTALL) continue;
      if (!isImportant(d) || isNegative(d)) continue;
      if (!satisfiesVer(d, cur.str) || satisfiesVer(d, pv.str)) continue;
      if (toUpgrade.includes(parent)) continue;
      toUpgrade.push(parent);
    }
  };

  let installedBySource: Map<string, Pkg[]> | undefined;
  const upgradeOtherBinaries = (p: Pkg, v: Ver | null, depth: number) => {
    if (!v) return;
    if (!installedBySource) {
      installedBySource = new Map();
      for (const q of pkgs) {
        if (!q.current) continue;
        for (const qv of q.versions) {
          let l = installedBySource.get(qv.srcName);
          if (!l) installedBySource.set(qv.srcName, (l = []));
          if (!l.includes(q)) l.push(q);
        }
      }
    }
    const todo: Pkg[] = [];
    for (const o of installedBySource.get(v.srcName) ?? []) {
      if (o === p) continue;
      const ov = o.cand;
      if (!ov || !o.current || o.current === ov) continue;
      if (o.mode === MODE_INSTALL && o.inst === ov) continue;
      if (ov.srcName !== v.srcName || ov.srcVer !== v.srcVer) continue;
      todo.push(o);
    }
    todo.sort((a, b) => a.id - b.id);
    for (const o of todo) markInstall(o, false, depth + 1, false);
    for (const o of todo) markInstall(o, true, depth + 1, false);
  };
  const upgradeOrRemoveConflicts = (toUpgrade: Pkg[], propagate: boolean, fromUser: boolean, depth: number): boolean => {
    let failed = false;
    for (const q of toUpgrade) {
      if (q.mode !== MODE_INSTALL && !markInstall(q, true, depth + 1, false)) {
        if (!markDelete(q, depth + 1, false)) {
          failed = true;
          if (!propagate && !fromUser) break;
        } else if (propagate) q.protect = true;
      }
    }
    return !failed;
  };

  const installDependencies = (p: Pkg, toInstall: Dep[][], propagate: boolean, fromUser: boolean, depth: number): boolean => {
    let failed = false;
    for (const g of toInstall) {
      const start = g[0]!;
      let found = g.some(bitInst);
      if (found && !propagate) continue;
      const critical = isCritical(start);
      if (found) {
        // try propagating protected to this satisfied dependency
        if (!critical) continue;
        const sols = getAllPossibleSolutions(g, CANDANDINST, false);
        if (sols.length !== 1) continue;
        const q = sols[0]!.pkg;
        if (q.protect) continue;
        q.protect = true;
        if (!markInstall(q, true, depth + 1, false)) failed = true;
        continue;
      }
      if (p.current && !critical) {
        // a Recommends of an installed package: only new ones or ones that were satisfied before
        let isNew = true;
        let wasSatisfied = false;
        const cg = groupsOf(p.current);
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
      const sols = getAllPossibleSolutions(g, CANDIDATE, true);
      for (const v of sols) {
        const q = v.pkg;
        if (q.cand !== v) continue;
        if (!triedBy.has(q)) triedBy.set(q, p);
        if (propagate && critical && sols.length === 1) {
          if (!markInstall(q, false, depth + 1, false)) continue;
          q.protect = true;
        }
        if (!markInstall(q, true, depth + 1, false)) continue;
        let l = pulledBy.get(q);
        if (!l) pulledBy.set(q, (l = []));
        l.push({ by: p, field: fieldName(g[g.length - 1]!) });
        found = true;
        break;
      }
      if (!found && critical) {
        recordFailure(p, g);
        failed = true;
        if (!propagate && !fromUser) break;
      }
    }
    return !failed;
  };

  function markInstall(p: Pkg, autoInst: boolean, depth: number, fromUser: boolean): boolean {
    if (p.excluded) return true; // treated as installed, and as having what it needs
    if (p.protect && p.mode === MODE_KEEP && p.cand && p.cand === p.current) {
      // here to mark the dependencies as protected; no state is changed
    } else if (!isModeChangeOk(MODE_INSTALL, p, depth, fromUser)) return false;
    if (!p.cand) return false;
    if (!p.protect) {
      const broken = instBrokenness(p);
      if (!broken.policy && !broken.min) {
        if (p.cand === p.current) {
          if (!p.inst) return markKeep(p, fromUser, depth + 1);
          return true;
        } else if (p.mode === MODE_INSTALL) return true;
      }
    }
    if (!isInstallOk(p, autoInst, fromUser)) return false;
    if (fromUser && !stateChange(p, fromUser)) return false;
    const failEarly = !p.protect && !fromUser;
    let hasFailed = false;
    const toInstall: Dep[][] = [];
    const toRemove: Dep[] = [];
    const toUpgrade: Pkg[] = [];
    const delayed: Pkg[] = [];
    if (autoInst) {
      const pv = p.cand;
      collectDependencies(pv, toInstall, toRemove);
      if (!removeConflictsIfNotUpgradeable(toRemove, toUpgrade, delayed, p.protect, fromUser, depth)) {
        if (failEarly) return false;
        hasFailed = true;
      }
      collectReverseDepends(pv, toUpgrade);
    }
    if (!fromUser && !stateChange(p, fromUser)) return false;
    if (!autoInst) return !hasFailed;

    const already = p.protect;
    if (!already) p.protect = true;
    try {
      upgradeOtherBinaries(p, p.cand, depth);
      if (!upgradeOrRemoveConflicts(toUpgrade, already, fromUser, depth)) {
        if (failEarly) {
          discardInstall(p);
          return false;
        }
        hasFailed = true;
      }
      if (!installDependencies(p, toInstall, already, fromUser, depth)) {
        if (failEarly) {
          discardInstall(p);
          return false;
        }
        hasFailed = true;
      }
      for (const r of delayed) {
        if (!markDelete(r, depth, false)) {
          if (failEarly) {
            discardInstall(p);
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

  // every installed package takes part (reverse dependencies, other binaries of a source, autoremove)
  for (let i = nUniverse; i < stanzas.length; i++) verOf(i);

  // ---------------------------------------------------------------- the request (private-install.cc)
  const requested: Ver[] = [];
  for (const spec of req.packages) {
    const m = /^([^:=]+)(?::([^=]+))?(?:=(.+))?$/.exec(spec.trim());
    if (!m) throw new ClosureError('NOT_FOUND', spec, `cannot parse the package request "${spec}"`);
    const name = m[1]!;
    const arch = m[2] ?? native;
    const wanted = m[3];
    let p: Pkg | undefined = getPkg(name, arch);
    if (!m[2] && p.versions.length === 0) p = groupPkgs(getGroup(name)).find((x) => x.versions.length > 0) ?? p;
    let v: Ver | undefined;
    if (p && wanted !== undefined) {
      v = p.versions.find((x) => x.str === wanted && downloadable(x)) ?? p.versions.find((x) => x.str === wanted && x === p.current);
      if (!v) {
        const avail = [...new Set(p.versions.filter(downloadable).map((x) => x.str))].reverse();
        throw new ClosureError('VERSION_NOT_FOUND', name, `${name}=${wanted} is not in the sources (available: ${avail.join(', ') || 'none'})`);
      }
    } else if (p && p.cand) v = p.cand;
    else {
      // a pure virtual package with a single provider is replaced by it (tryVirtualPackage)
      const provs = (p ? providesOf(p) : []).map((x) => x.ver).filter((x) => x.pkg.cand === x);
      let chosen: Ver | undefined;
      let simple = provs.length > 0;
      for (const x of provs) {
        if (!chosen) chosen = x;
        else if (chosen.pkg.group !== x.pkg.group) {
          simple = false;
          break;
        } else if (chosen.pkg.arch !== arch && archOrder.indexOf(x.pkg.arch) < archOrder.indexOf(chosen.pkg.arch)) chosen = x;
      }
      if (!simple || !chosen) {
        const names = [...new Set(provs.map((x) => x.pkg.group.name))].sort();
        throw new ClosureError(
          'NOT_FOUND',
          name,
          names.length
            ? `${name} is a virtual package provided by ${names.join(', ')}: request one of them`
            : p && p.versions.length
              ? `${name} has no installation candidate in the configured sources`
              : `no package ${name} for ${arch} in the configured sources`,
        );
      }
      v = chosen;
      if (wanted !== undefined) {
        throw new ClosureError('VERSION_NOT_FOUND', name, `${name} is a virtual package; ${name}=${wanted} cannot be requested`);
      }
    }
    if (!requested.includes(v)) requested.push(v);
  }
  for (const v of requested) {
    const p = v.pkg;
    setCandidateVersion(p, v);
    p.protect = true;
    markInstall(p, false, 0, true);
    why.set(keyOfVer(v), { by: '(requested)', field: 'request' });
  }
  for (const v of requested) markInstall(v.pkg, true, 0, true);

  // ---------------------------------------------------------------- what marking left broken
  const isNewlyBroken = (p: Pkg) => p.inst !== null && instBrokenness(p).min && !(p.current && nowBroken(p));
  const touched = () => pkgs.filter((p) => p.touched);
  for (const p of touched()) {
    if (p.mode === MODE_INSTALL && isNewlyBroken(p)) throw brokenError(p);
  }
  for (const p of pkgs) {
    if (p.current && p.mode !== MODE_INSTALL && isNewlyBroken(p)) throw brokenError(p);
  }

  function chainOf(p: Pkg): Pkg[] {
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
  function brokenError(p: Pkg): ClosureError {
    const v = p.inst!;
    // of the broken groups, one nothing in the sources could satisfy is the one to name
    const broken = groupsOf(v).filter((x) => isCritical(x[0]!) && !x.some(bitInst));
    const g = broken.find((x) => !isNegative(x[0]!) && x.every((d) => fromDependency(d, CANDIDATE).length === 0)) ?? broken[0] ?? [];
    if (g[0] && isNegative(g[0])) {
      // A Conflicts/Breaks of an installed package against what the closure installs: apt's problem
      // resolver would upgrade or remove that package.
      const d = g[0];
      const hit = [d.target, ...providesOf(d.target).map((x) => x.ver.pkg)].find((q) => q.mode === MODE_INSTALL && q !== p) ?? d.target;
      const text = d.rel ? formatRelation(d.rel) : d.target.group.name;
      const names = chainOf(hit).map((x) => x.group.name);
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
    // Follow the alternatives that failed on their own unsatisfiable dependency down to the first one.
    let at = p;
    let group = g;
    const chain = chainOf(p);
    for (let i = 0; i < 50; i++) {
      const next = group
        .flatMap((d) => [d.target, ...providesOf(d.target).map((x) => x.ver.pkg)])
        .find((q) => failures.has(q) && !chain.includes(q));
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
    const field = group[0] ? (group[0].type === T_PREDEPENDS ? 'Pre-Depends' : isNegative(group[0]) ? (group[0].type === T_BREAKS ? 'Breaks' : 'Conflicts') : 'Depends') : 'Depends';
    const satisfiable = group.some((d) => fromDependency(d, CANDIDATE).length > 0);
    const names = chain.map((x) => x.group.name);
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

  // ---------------------------------------------------------------- DoAutomaticRemove: drop unneeded new installs
  const boring = (p: Pkg) => (p.current ? p.mode === MODE_DELETE : p.mode === MODE_KEEP);
  const fullyExplored = new Set<Pkg>();
  const markPackage = (p: Pkg, v: Ver | null, depth: number) => {
    if (!v || p.marked) return;
    if (boring(p)) {
      fullyExplored.add(p);
      return;
    }
    if (depth > 3000) return;
    p.marked = true;
    for (const d of buildDeps(v)) {
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
      for (const prv of providesOf(t)) {
        const pp = prv.ver.pkg;
        if (boring(pp)) continue;
        const pv = pp.mode === MODE_INSTALL ? pp.inst : pp.current;
        if (!pv || pv !== prv.ver) continue;
        if (!satisfiesPrv(d, prv)) unsatisfied = true;
        else add(pv);
      }
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
  const live = pkgs.filter((p) => p.current || p.touched);
  for (const p of live) p.marked = false;
  for (const p of live) {
    if (p.marked || boring(p)) continue;
    const root =
      !p.auto || p.essential || p.important || (p.current !== null && p.current.priority === 1) || !isModeChangeOk(-1, p, 0, false);
    if (!root) continue;
    markPackage(p, p.mode === MODE_INSTALL ? p.inst : p.current, 0);
  }
  const tooMuch: Pkg[] = [];
  for (const p of live) {
    if (p.current && p.current.priority === 1) continue;
    const garbage = !p.marked && (p.current !== null || p.mode === MODE_INSTALL);
    if (garbage && p.mode === MODE_INSTALL && !p.current) {
      tooMuch.push(p);
      markDelete(p, 0, false);
    }
  }
  if (tooMuch.length) {
    const anyBroken = () => pkgs.some((p) => p.inst && (p.current || p.touched) && (instBrokenness(p).min || instBrokenness(p).policy));
    if (anyBroken()) {
      // "we could have removed a new dependency of a garbage package": keep those that an installed (kept)
      // package or a new install or upgrade still depends on
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
              for (const r of buildDeps(rv)) {
                if (isNegative(r) || !isImportant(r)) continue;
                if (r.target !== p && !(p.cand && providesOf(r.target).some((x) => x.ver === p.cand))) continue;
                markInstall(p, false, 0, false);
                tooMuch.splice(tooMuch.indexOf(p), 1);
                changed = true;
                break outer;
              }
            }
          }
        }
      } while (changed);
    }
  }

  // ---------------------------------------------------------------- the result
  const chosen = pkgs.filter((p) => p.mode === MODE_INSTALL && p.inst && p.inst !== p.current && !excluded.has(p.group.name));
  const packages: PackageRecord[] = [];
  for (const p of chosen) {
    const v = p.inst!;
    if (!v.recs.length) throw new ClosureError('NOT_FOUND', p.group.name, `${p.group.name} ${v.str} cannot be downloaded from the configured sources`);
    let best = v.recs[0]!;
    for (const r of v.recs) if (r.origin.pin > best.origin.pin) best = r;
    packages.push(best);
  }
  packages.sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0));
  const inResult = new Set(chosen);
  for (const p of chosen) {
    const k = keyOfVer(p.inst!);
    if (why.has(k)) continue;
    const by = pulledBy.get(p)?.find((x) => x.by.mode === MODE_INSTALL || x.by.current);
    if (by) why.set(k, { by: keyOfVer(by.by.inst ?? by.by.current!), field: by.field });
  }
  for (const k of [...why.keys()]) {
    if (![...inResult].some((p) => keyOfVer(p.inst!) === k)) why.delete(k);
  }
  return { packages, why };
}
