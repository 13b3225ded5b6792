import { parseRelations } from '../relations.js';
import type { NameIndex } from './name-index.js';
import { F_ARCHSPECIFIC, F_IMPLICIT, MA_ALLOWED, MA_FOREIGN, type Pkg, type Prv, type Stanza, type Ver, verArch } from './model.js';

/** What of the package cache (cache.ts) this reads. */
export interface PackageCache {
  readonly native: string;
  readonly names: NameIndex;
  checkArch(a: string): boolean;
  normArch(a: string): string;
  stanza(i: number): Stanza;
  verOf(i: number): Ver;
}

/** ListParser::NewProvides does not record a package providing itself (same name, arch and version). */
function selfProvides(cache: PackageCache, v: Ver, name: string, arch: string, str: string | undefined): boolean {
  return v.pkg.group.name === name && (arch === v.pkg.arch || (arch === 'all' && v.pkg.arch === cache.native)) && (!str || str === v.str);
}

/**
 * What provides a package, as apt's cache ends up after debListParser::ParseProvides (explicit provides,
 * M-A:allowed providing pkg:any, M-A:foreign providing every architecture) and NewPackage (siblings).
 * Built from the stanzas that name or provide it (cache.ts keeps the result on the package).
 */
export function providesOf(cache: PackageCache, t: Pkg): Prv[] {
  const out: Prv[] = [];
  const add = (ver: Ver, flags: number, str: string | undefined) => out.push({ ver, target: t, flags, ...(str ? { str } : {}) });
  const gname = t.group.name;
  const colon = gname.indexOf(':');
  const base = t.arch === 'any' && colon > 0 ? gname.slice(0, colon) : gname;
  const qual = t.arch === 'any' && colon > 0 ? gname.slice(colon + 1) : undefined;
  for (const i of cache.names.providing(base)) {
    const v = cache.verOf(i);
    if (v.def !== i) continue; // apt reads the provides of the first stanza of a version
    const arch = verArch(v);
    const barbarian = !cache.checkArch(arch);
    for (const g of parseRelations(cache.stanza(i).provides)) {
      for (const r of g) {
        if (r.name !== base || (r.op && r.op !== '=')) continue;
        const str = r.op ? r.version : undefined;
        if (qual === undefined) {
          // a real package: base of architecture t.arch
          if (r.arch) {
            if (r.arch !== 'any' && cache.normArch(r.arch) === t.arch && !selfProvides(cache, v, base, r.arch, str)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
          } else if (v.ma & MA_FOREIGN) {
            if (!barbarian) add(v, 0, str);
            else if (v.pkg.arch === t.arch && !selfProvides(cache, v, base, arch, str)) add(v, 0, str);
          } else if (cache.normArch(arch) === t.arch && !selfProvides(cache, v, base, arch, str)) add(v, 0, str);
        } else if (qual === 'any') {
          if (r.arch === 'any') add(v, F_ARCHSPECIFIC, str);
          else if (!r.arch && !(v.ma & MA_FOREIGN) && v.ma & MA_ALLOWED && !barbarian) add(v, F_IMPLICIT, str);
        } else {
          if (r.arch && cache.normArch(r.arch) === cache.normArch(qual)) add(v, F_ARCHSPECIFIC, str);
          else if (!r.arch && v.pkg.arch === cache.normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, str);
        }
      }
    }
  }
  // Multi-Arch implicit provides by the versions of the named package
  for (const i of cache.names.named(base)) {
    const v = cache.verOf(i);
    if (v.def !== i) continue;
    if (qual === undefined) {
      if (v.pkg !== t && v.ma & MA_FOREIGN && cache.checkArch(v.pkg.arch)) add(v, F_IMPLICIT, v.str);
    } else if (qual === 'any') {
      if (v.ma & MA_ALLOWED && cache.checkArch(verArch(v))) add(v, F_IMPLICIT, v.str);
    } else if (v.pkg.arch === cache.normArch(qual)) add(v, F_IMPLICIT | F_ARCHSPECIFIC, v.str);
  }
  return out;
}
