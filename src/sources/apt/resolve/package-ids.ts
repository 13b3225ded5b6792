import { parseRelations } from '../relations.js';
import type { PackageCache } from './cache.js';
import type { Pkg, RelSource, Stanza } from './model.js';

const FILTER_BITS = 1 << 20;

/** FNV-1a over a name, folded with its length into the filter's bit range. */
function filterBit(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 16777619);
  return (h ^ name.length) & (FILTER_BITS - 1);
}

/**
 * Package IDs: the order apt's cache generator creates packages in (stanzas in index order; each stanza's
 * package, then the targets of its Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests, Replaces,
 * Enhances, then Provides). They only decide between two providers that tie on everything else
 * (CompareProviders' last rule), so only packages that have Provides are numbered, stanzas are scanned only
 * as far as the packages asked about need, and a hash filter passes over other names without cutting them out.
 */
export class PackageIds {
  /** Set up on the first question: most closures never need an ID. */
  private scanner: IdScanner | undefined;

  constructor(
    private readonly cache: PackageCache,
    private readonly memo: IdMemo = {},
  ) {}

  /** apt's ID of p (Number.MAX_SAFE_INTEGER for a package apt would never create). */
  of(p: Pkg): number {
    if (p.id >= 0) return p.id;
    const key = p.arch === this.cache.native ? p.group.name : `${p.group.name}\0${p.arch}`;
    if (this.memo.known) return (p.id = this.memo.known.get(key) ?? Number.MAX_SAFE_INTEGER);
    const cache = this.cache;
    const st = (this.scanner ??= new IdScanner(cache));
    this.memo.complete ??= () => {
      while (st.next < cache.nStanzas) st.scan(cache.peek(st.next++));
      return st.m;
    };
    let id = st.m.get(key);
    while (id === undefined && st.next < cache.nStanzas) {
      st.scan(cache.peek(st.next++));
      id = st.m.get(key);
    }
    return (p.id = id ?? Number.MAX_SAFE_INTEGER);
  }
}

/**
 * The IDs of an earlier scan of the same stanzas (index digests, architectures and target status alike:
 * universe-cache.ts keys them so), and how to have every ID of a scan that was started, to keep them.
 * A complete scan numbers every package a lazy one would, in the same order, so the two answer alike.
 */
export interface IdMemo {
  known?: ReadonlyMap<string, number>;
  /** Set once IDs were scanned for: scans the rest of the stanzas and gives every ID. */
  complete?: () => ReadonlyMap<string, number>;
}

/** Replays the package creations of apt's cache generator over the stanzas, one stanza at a time. */
class IdScanner {
  private readonly filter = new Uint8Array(FILTER_BITS >> 3);
  /**
   * Names of packages that have Provides (the only ones numbered), each mapped to one string of its own: a name
   * cut from a stanza's field would keep that whole field alive (a row of the universe read for one look).
   */
  private readonly wanted = new Map<string, string>();
  /** name (native) or name\0arch -> creation order */
  readonly m = new Map<string, number>();
  /** wanted names with a package of any architecture */
  private readonly created = new Set<string>();
  private n = 0;
  /** The next stanza to scan. */
  next = 0;
  // the stanza being scanned
  private pkgArch: string;
  private negative = false;
  private barbarian = false;

  constructor(private readonly cache: PackageCache) {
    this.pkgArch = cache.native;
    for (const i of cache.names.providers()) {
      const name = cache.nameOf(i);
      if (this.wanted.has(name)) continue;
      this.wanted.set(name, name);
      const hb = filterBit(name);
      this.filter[hb >> 3]! |= 1 << (hb & 7);
    }
  }

  private create(cut: string, arch: string): void {
    const name = this.wanted.get(cut) ?? cut;
    const a = this.cache.normArch(arch);
    const key = a === this.cache.native ? name : `${name}\0${a}`;
    if (this.m.has(key)) return;
    this.m.set(key, this.n++);
    this.created.add(name);
  }

  private mention(name: string, arch: string | undefined): void {
    if (arch === undefined) {
      if (!this.negative || !this.created.has(name)) this.create(name, this.pkgArch);
    } else if (arch === 'any') {
      if (this.barbarian && (!this.negative || !this.created.has(name))) this.create(name, this.pkgArch);
    } else this.create(name, arch === 'native' ? this.cache.native : arch); // created with the name:arch package
  }

  /** Mentions each wanted name of a relationship field, hashing names inline so other names cost no slice. */
  private scanField(t: string): void {
    const filter = this.filter;
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
        if (this.wanted.has(name)) this.mention(name, colon < 0 ? undefined : t.slice(colon + 1, i));
      }
      while (i < len) {
        c = t.charCodeAt(i);
        if (c === 0x2c || c === 0x7c) break;
        i++;
      }
    }
  }

  scan(rec: Stanza): void {
    const { native } = this.cache;
    const own = this.cache.normArch(rec.architecture);
    if (this.wanted.has(rec.package)) this.create(rec.package, own);
    const pkgArch = (this.pkgArch = rec.architecture === 'all' ? native : own);
    const barbarian = (this.barbarian = !this.cache.checkArch(rec.architecture));
    const r = rec as RelSource;
    // the fields in the order debListParser::NewVersion reads them
    this.negative = false;
    if (r.preDepends) this.scanField(r.preDepends);
    if (r.depends) this.scanField(r.depends);
    this.negative = true;
    if (r.conflicts) this.scanField(r.conflicts);
    if (r.breaks) this.scanField(r.breaks);
    this.negative = false;
    if (r.recommends) this.scanField(r.recommends);
    if (r.suggests) this.scanField(r.suggests);
    this.negative = true;
    if (r.replaces) this.scanField(r.replaces);
    this.negative = false;
    if (r.enhances) this.scanField(r.enhances);
    if (rec.provides) {
      const foreign = rec.multiArch === 'foreign';
      for (const g of parseRelations(rec.provides, false)) {
        for (const r of g) {
          if (!this.wanted.has(r.name) || (r.op && r.op !== '=')) continue;
          const str = r.op ? r.version : undefined;
          const self = (a: string) => rec.package === r.name && this.cache.normArch(a) === own && (!str || str === rec.version);
          if (r.arch) {
            if (!self(r.arch)) this.create(r.name, r.arch);
          } else if (foreign && !barbarian) {
            if (!this.created.has(r.name) && !self(native)) this.create(r.name, native);
          } else if (!self(pkgArch)) this.create(r.name, pkgArch);
        }
      }
    }
  }
}

/** What kept IDs mean: the scanner's own text (minified or not) with a number to bump, so a changed scanner never reads old IDs. */
export function idFormat(): string {
  return `1 ${String(filterBit)} ${String(IdScanner)}`;
}
