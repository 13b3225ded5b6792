import type { AptPackageRecord, StatusRecord } from '../records.js';
import { parseRelations } from '../relations.js';
import type { InstalledRecord, PackageRecord, ResolveRequest } from '../types.js';
import { compareVersions } from '../version.js';
import {
  F_ARCHSPECIFIC,
  F_IMPLICIT,
  type Group,
  MA_ALL,
  MA_ALLOWED,
  MA_FOREIGN,
  MA_SAME,
  MODE_KEEP,
  NONE_V,
  type Pkg,
  type Prv,
  type Stanza,
  type Ver,
  verArch,
} from './model.js';
import { policyCandidate, statusOf } from './policy.js';
import { versionHash } from './version-hash.js';

const PRIORITY: Record<string, number> = { required: 1, important: 2, standard: 3, optional: 4, extra: 5 };

const maFlags = (ma: PackageRecord['multiArch'], arch: string): number => {
  const all = arch === 'all';
  let f = ma === 'same' ? (all ? 0 : MA_SAME) : ma === 'foreign' ? MA_FOREIGN : ma === 'allowed' ? MA_ALLOWED : 0;
  if (all) f |= MA_ALL;
  return f;
};

/** The source package name and version a stanza names (its own when it has no Source field). */
const sourceOf = (name: string, version: string, source: string | undefined): [string, string] => {
  if (!source) return [name, version];
  const m = /^(\S+)(?:\s*\(\s*([^)\s]+)\s*\))?/.exec(source.trim());
  return m ? [m[1]!, m[2] ?? version] : [name, version];
};

/**
 * The package cache as apt-pkg/pkgcachegen.cc and deb/deblistparser.cc build it: groups, packages per
 * architecture, versions and what provides each package.
 *
 * apt builds every package of every index; here packages are built when first looked at, from an index of
 * the stanzas by name and by provided name, to the same final shape (see providesOf for the Multi-Arch
 * rules). Of the 60,000 packages of Debian main a closure touches a few thousand.
 */
export class PackageCache {
  readonly native: string;
  readonly configured: Set<string>;
  /** The configured architectures, native first (APT::Architectures order). */
  readonly archOrder: string[];
  readonly excluded: Set<string>;
  /** Index stanzas of configured architectures (in the order apt reads the index files), then the status file's. */
  readonly stanzas: Stanza[] = [];
  /** Where the status file's stanzas start in `stanzas`. */
  readonly nUniverse: number;
  readonly byName = new Map<string, number[]>();
  /** Stanzas by the names they provide. */
  readonly provIdx = new Map<string, number[]>();
  readonly groups = new Map<string, Group>();
  readonly pkgByKey = new Map<string, Pkg>();
  /** Every package built so far, in the order it was built. */
  readonly pkgs: Pkg[] = [];
  private readonly verOfStanza: (Ver | undefined)[];
  private verCount = 0;

  constructor(universe: readonly PackageRecord[], installed: readonly InstalledRecord[], req: ResolveRequest) {
    this.native = req.architectures[0] ?? 'amd64';
    this.configured = new Set(req.architectures.length ? req.architectures : [this.native]);
    this.archOrder = [...this.configured];
    this.excluded = new Set(req.exclude);
    for (const r of universe) if (this.checkArch(r.architecture)) this.index(r);
    this.nUniverse = this.stanzas.length;
    for (const i of installed) this.index(i);
    this.verOfStanza = new Array<Ver | undefined>(this.stanzas.length);
  }

  private index(rec: Stanza): void {
    const i = this.stanzas.length;
    this.stanzas.push(rec);
    const l = this.byName.get(rec.package);
    if (l) l.push(i);
    else this.byName.set(rec.package, [i]);
    if (rec.provides) {
      let last = '';
      for (const g of parseRelations(rec.provides)) {
        for (const r of g) {
          if (r.name === last) continue;
          last = r.name;
          const pl = this.provIdx.get(r.name);
          if (!pl) this.provIdx.set(r.name, [i]);
          else if (pl[pl.length - 1] !== i) pl.push(i);
        }
      }
    }
  }

  /** Whether apt reads stanzas of this architecture (a configured one, or "all"). */
  checkArch(a: string): boolean {
    return a === 'all' || this.configured.has(a);
  }

  /** The architecture of the package a stanza or qualifier belongs to: "all" and "native" are the native one. */
  normArch(a: string): string {
    return a === 'all' || a === 'native' ? this.native : a;
  }

  getGroup(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, pkgs: null };
      this.groups.set(name, g);
    }
    return g;
  }

  /** The packages apt has in a group: one per architecture with stanzas, and the native one. */
  groupPkgs(g: Group): Pkg[] {
    if (g.pkgs) return g.pkgs;
    if (g.name.includes(':')) return (g.pkgs = [this.getPkg(g.name, 'any')]);
    const arches: string[] = [this.native];
    for (const i of this.byName.get(g.name) ?? []) {
      const a = this.normArch(this.stanzas[i]!.architecture);
      if (!arches.includes(a)) arches.push(a);
    }
    return (g.pkgs = arches.map((a) => this.getPkg(g.name, a)));
  }

  /** The package name:arch, built with its versions (and initial depcache state) when first asked for. */
  getPkg(name: string, arch: string): Pkg {
    const a = this.normArch(arch);
    const key = `${name}\0${a}`;
    const hit = this.pkgByKey.get(key);
    if (hit) return hit;
    const p: Pkg = {
      id: -1,
      group: this.getGroup(name),
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
      excluded: this.excluded.has(name),
    };
    this.pkgByKey.set(key, p);
    this.pkgs.push(p);
    if (a !== 'any') this.addVersions(p, name, a);
    p.cand = p.cand0 = p.versions.length ? policyCandidate(p) : null;
    p.inst = p.inst0 = p.current;
    p.status = statusOf(p);
    return p;
  }

  /** Merges the stanzas of name:a into p's versions, the way apt does: highest first, equal ones merged. */
  private addVersions(p: Pkg, name: string, a: string): void {
    const { stanzas, nUniverse } = this;
    const versions: Ver[] = [];
    for (const i of this.byName.get(name) ?? []) {
      const rec = stanzas[i]!;
      if (this.normArch(rec.architecture) !== a) continue;
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
          id: this.verCount++,
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
      this.verOfStanza[i] = ver;
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
    if (!p.current && this.excluded.has(name)) p.current = policyCandidate(p);
  }

  /** The version stanza i belongs to (building its package if needed). */
  verOf(i: number): Ver {
    const v = this.verOfStanza[i];
    if (v) return v;
    const rec = this.stanzas[i]!;
    this.getPkg(rec.package, rec.architecture);
    return this.verOfStanza[i]!;
  }

  /** ListParser::NewProvides does not record a package providing itself (same name, arch and version). */
  private selfProvides(v: Ver, name: string, arch: string, str: string | undefined): boolean {
    return v.pkg.group.name === name && (arch === v.pkg.arch || (arch === 'all' && v.pkg.arch === this.native)) && (!str || str === v.str);
  }

  /**
   * What provides a package, as apt's cache ends up after debListParser::ParseProvides (explicit provides,
   * M-A:allowed providing pkg:any, M-A:foreign providing every architecture) and NewPackage (siblings).
   */
  providesOf(t: Pkg): Prv[] {
    if (t.provides) return t.provides;
    const out: Prv[] = [];
    const add = (ver: Ver, flags: number, str: string | undefined) => out.push({ ver, target: t, flags, ...(str ? { str } : {}) });
    const gname = t.group.name;
    const colon = gname.indexOf(':');
    const base = t.arch === 'any' && colon > 0 ? gname.slice(0, colon) : gname;
    const qual = t.arch === 'any' && colon > 0 ? gname.slice(colon + 1) : undefined;
    for (const i of this.provIdx.get(base) ?? []) {
      const v = this.verOf(i);
      if (v.def !== i) continue; // apt reads the provides of the first stanza of a version
      const arch = verArch(v);
      const barbarian = !this.checkArch(arch);
      for (const g of parseRelations(this.stanzas[i]!.provides)) {
        for (const r of g) {
          if (r.name !== base || (r.op && r.op !== '=')) continue;
          const str = r.op ? r.version : undefined;
          if (qual === undefined) {
            // a real package: base of architecture t.arch
            if (r.arch) {
              if (r.arch !== 'any' && this.normArch(r.arch) === t.arch && !this.selfProvides(v, base, r.arch, str)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
            } else if (v.ma & MA_FOREIGN) {
              if (!barbarian) add(v, 0, str);
              else if (v.pkg.arch === t.arch && !this.selfProvides(v, base, arch, str)) add(v, 0, str);
            } else if (this.normArch(arch) === t.arch && !this.selfProvides(v, base, arch, str)) add(v, 0, str);
          } else if (qual === 'any') {
            if (r.arch === 'any') add(v, F_ARCHSPECIFIC, str);
            else if (!r.arch && !(v.ma & MA_FOREIGN) && v.ma & MA_ALLOWED && !barbarian) add(v, F_IMPLICIT, str);
          } else {
            if (r.arch && this.normArch(r.arch) === this.normArch(qual)) add(v, F_ARCHSPECIFIC, str);
            else if (!r.arch && v.pkg.arch === this.normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
          }
        }
      }
    }
    // Multi-Arch implicit provides by the versions of the named package
    for (const i of this.byName.get(base) ?? []) {
      const v = this.verOf(i);
      if (v.def !== i) continue;
      if (qual === undefined) {
        if (v.pkg !== t && v.ma & MA_FOREIGN && this.checkArch(v.pkg.arch)) add(v, F_IMPLICIT, v.str);
      } else if (qual === 'any') {
        if (v.ma & MA_ALLOWED && this.checkArch(verArch(v))) add(v, F_IMPLICIT, v.str);
      } else if (v.pkg.arch === this.normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, v.str);
    }
    return (t.provides = out);
  }
}
