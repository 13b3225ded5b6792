import type { AptPackageRecord, StatusRecord } from '../records.js';
import type { Relation } from '../relations.js';
import { compareVersions } from '../version.js';

// The shapes of apt's package cache (pkgcache.h) as this port keeps them, with apt's own flag values so the
// code reads like the C++ it follows.

// pkgCache::Version::VerMultiArch
export const MA_ALL = 1;
export const MA_FOREIGN = 2;
export const MA_SAME = 4;
export const MA_ALLOWED = 8;

// pkgCache::Dep::DepType
export const T_DEPENDS = 1;
export const T_PREDEPENDS = 2;
export const T_SUGGESTS = 3;
export const T_RECOMMENDS = 4;
export const T_CONFLICTS = 5;
export const T_REPLACES = 6;
export const T_BREAKS = 8;
export const T_ENHANCES = 9;

// pkgCache::Dep::DepCompareOp, and the flags apt keeps in the same byte
export const OP_NONE = 0;
export const OP_LE = 1;
export const OP_GE = 2;
export const OP_LT = 3;
export const OP_GT = 4;
export const OP_EQ = 5;
export const OP_NE = 6;
export const F_OR = 0x10;
export const F_IMPLICIT = 0x20;
export const F_ARCHSPECIFIC = 0x40;

// pkgDepCache::ModeList
export const MODE_KEEP = 0;
export const MODE_INSTALL = 1;
export const MODE_DELETE = 2;

/** The shared empty version list of packages without versions (purely virtual ones). */
export const NONE_V: Ver[] = [];

export type Field = 'Depends' | 'Pre-Depends' | 'Recommends';

/** A stanza as the cache reads it: from an index (Packages) or from the target's status file. */
export type Stanza = AptPackageRecord | StatusRecord;

export interface Group {
  name: string;
  /** Its packages (one per architecture), listed when first needed. */
  pkgs: Pkg[] | null;
}

export interface Pkg {
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

export interface Ver {
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

export interface Dep {
  ver: Ver;
  target: Pkg;
  op: number;
  str?: string;
  type: number;
  rel?: Relation;
}

export interface Prv {
  ver: Ver;
  target: Pkg;
  str?: string;
  flags: number;
}

export type RelSource = Pick<
  AptPackageRecord,
  'preDepends' | 'depends' | 'conflicts' | 'breaks' | 'recommends' | 'suggests' | 'replaces' | 'enhances' | 'provides'
>;

/** The relationship fields in the order debListParser::NewVersion reads them. */
export const DEP_FIELDS: [keyof RelSource, number][] = [
  ['preDepends', T_PREDEPENDS],
  ['depends', T_DEPENDS],
  ['conflicts', T_CONFLICTS],
  ['breaks', T_BREAKS],
  ['recommends', T_RECOMMENDS],
  ['suggests', T_SUGGESTS],
  ['replaces', T_REPLACES],
  ['enhances', T_ENHANCES],
];

export function relOp(op: Relation['op']): number {
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

export function opHolds(op: number, cmp: number): boolean {
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

export const isNegative = (d: Dep) => d.type === T_BREAKS || d.type === T_CONFLICTS;
export const isCritical = (d: Dep) => isNegative(d) || d.type === T_DEPENDS || d.type === T_PREDEPENDS;
export const fieldName = (d: Dep): Field => (d.type === T_PREDEPENDS ? 'Pre-Depends' : d.type === T_RECOMMENDS ? 'Recommends' : 'Depends');
/** The key a version has in ResolveResult.why: name:arch, with "all" for Architecture: all. */
export const keyOfVer = (v: Ver) => `${v.pkg.group.name}:${v.ma & MA_ALL ? 'all' : v.pkg.arch}`;
/** The architecture apt files a version's dependencies under: "all" for Architecture: all. */
export const verArch = (v: Ver) => (v.ma & MA_ALL ? 'all' : v.pkg.arch);

/** Whether version string v meets the dependency's version constraint. */
export const satisfiesVer = (d: Dep, v: string): boolean => d.str === undefined || opHolds(d.op, compareVersions(v, d.str));
/** Whether a provide meets the dependency's version constraint (an unversioned provide meets none). */
export const satisfiesPrv = (d: Dep, prv: Prv): boolean => d.str === undefined || (prv.str !== undefined && opHolds(d.op, compareVersions(prv.str, d.str)));
