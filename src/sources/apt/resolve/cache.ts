import type { AptPackageRecord, StatusRecord } from '../records.js';
import { NameIndex } from './name-index.js';
import { providesOf } from './provides-of.js';
import type { InstalledRecord, PackageRecord, ResolveRequest } from '../types.js';
import { compareVersions } from '../version.js';
import { type Group, MA_ALL, MA_ALLOWED, MA_FOREIGN, MA_SAME, MODE_KEEP, NONE_V, type Pkg, type Prv, type Stanza, type Ver } from './model.js';
import { policyCandidate, statusOf } from './policy.js';
import { versionHash } from './version-hash.js';
import { type RecordTable, recordTable } from '../universe.js';

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
  /**
   * Stanzas are numbered: those of the indexes of configured architectures (in the order apt reads the index
   * files), then the status file's. `rows` maps the first to rows of the universe table.
   */
  private readonly table: RecordTable;
  private readonly rows: Int32Array;
  private readonly installed: readonly InstalledRecord[];
  /** Where the status file's stanzas start. */
  readonly nUniverse: number;
  /** How many stanzas there are. */
  readonly nStanzas: number;
  /** Stanzas by name and by the names they provide. */
  readonly names: NameIndex;
  readonly groups = new Map<string, Group>();
  readonly pkgByKey = new Map<string, Pkg>();
  /** Every package built so far, in the order it was built. */
  readonly pkgs: Pkg[] = [];
  private readonly verOfStanza: (Ver | undefined)[];
  private verCount = 0;

  constructor(universe: readonly PackageRecord[] | RecordTable, installed: readonly InstalledRecord[], req: ResolveRequest) {
    this.native = req.architectures[0] ?? 'amd64';
    this.configured = new Set(req.architectures.length ? req.architectures : [this.native]);
    this.archOrder = [...this.configured];
    this.excluded = new Set(req.exclude);
    const table = (this.table = 'get' in universe ? universe : recordTable(universe));
    const rows = new Int32Array(table.length);
    const names = (this.names = new NameIndex(table.length + installed.length));
    let n = 0;
    for (let r = 0; r < table.length; r++) {
      if (!this.checkArch(table.arch(r))) continue;
      rows[n] = r;
      names.add(n++, table.name(r), table.provides(r));
    }
    this.rows = rows.slice(0, n);
    this.nUniverse = n;
    this.installed = installed;
    for (const i of installed) names.add(n++, i.package, i.provides);
    this.nStanzas = n;
    this.verOfStanza = new Array<Ver | undefined>(n);
  }

  /** Stanza i (the same object every time). */
  stanza(i: number): Stanza {
    return i < this.nUniverse ? this.table.get(this.rows[i]!) : this.installed[i - this.nUniverse]!;
  }

  /** Stanza i for one look, as a scan over every stanza wants it: not kept. */
  peek(i: number): Stanza {
    return i < this.nUniverse ? this.table.peek(this.rows[i]!) : this.installed[i - this.nUniverse]!;
  }

  /** The package name of stanza i. */
  nameOf(i: number): string {
    return i < this.nUniverse ? this.table.name(this.rows[i]!) : this.installed[i - this.nUniverse]!.package;
  }

  /** The architecture field of stanza i. */
  archOf(i: number): string {
    return i < this.nUniverse ? this.table.arch(this.rows[i]!) : this.installed[i - this.nUniverse]!.architecture;
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
    for (const i of this.names.named(g.name)) {
      const a = this.normArch(this.archOf(i));
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
    const { nUniverse } = this;
    const versions: Ver[] = [];
    for (const i of this.names.named(name)) {
      if (this.normArch(this.archOf(i)) !== a) continue;
      const rec = this.stanza(i);
      const fromStatus = i >= nUniverse;
      // the same version string from another stanza is the same version when apt's VersionHash and the
      // Multi-Arch field agree (a status stanza has no Size; two index stanzas must also agree on Size)
      const ma = maFlags(rec.multiArch, rec.architecture);
      let v: Ver | undefined;
      for (const x of versions) {
        if (x.str !== rec.version || x.ma !== ma) continue;
        const d = this.stanza(x.def);
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
    this.getPkg(this.nameOf(i), this.archOf(i));
    return this.verOfStanza[i]!;
  }

  /**
   * What provides a package, as apt's cache ends up after debListParser::ParseProvides (explicit provides,
   * M-A:allowed providing pkg:any, M-A:foreign providing every architecture) and NewPackage (siblings).
   */
  providesOf(t: Pkg): Prv[] {
    return (t.provides ??= providesOf(this, t));
  }
}
