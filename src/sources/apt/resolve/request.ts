import type { ResolveResult } from '../types.js';
import type { PackageCache } from './cache.js';
import type { DepCache } from './depcache.js';
import { ClosureError } from './errors.js';
import { keyOfVer, type Pkg, type Ver } from './model.js';
import { downloadable } from './policy.js';

/**
 * The versions `apt-get install <specs>` asks for (name, name:arch, name=version), as apt-private's
 * cacheset resolves them: the candidate, the named version, or the single provider of a pure virtual
 * package (tryVirtualPackage). Duplicates are dropped; the order is the request's.
 */
export function findRequested(cache: PackageCache, specs: readonly string[]): Ver[] {
  const { native, archOrder } = cache;
  const requested: Ver[] = [];
  for (const spec of specs) {
    const m = /^([^:=]+)(?::([^=]+))?(?:=(.+))?$/.exec(spec.trim());
    if (!m) throw new ClosureError('NOT_FOUND', spec, `cannot parse the package request "${spec}"`);
    const name = m[1]!;
    const arch = m[2] ?? native;
    const wanted = m[3];
    let p: Pkg | undefined = cache.getPkg(name, arch);
    if (!m[2] && p.versions.length === 0) p = cache.groupPkgs(cache.getGroup(name)).find((x) => x.versions.length > 0) ?? p;
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
      const provs = (p ? cache.providesOf(p) : []).map((x) => x.ver).filter((x) => x.pkg.cand === x);
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
  return requested;
}

/**
 * Marks the requested versions the way apt-private/private-install.cc does: each one first without its
 * dependencies (so none of them is taken for a dependency's alternative), then each with them.
 */
export function markRequested(depcache: DepCache, requested: readonly Ver[], why: ResolveResult['why']): void {
  for (const v of requested) {
    const p = v.pkg;
    depcache.setCandidateVersion(p, v);
    p.protect = true;
    depcache.markInstall(p, false, 0, true);
    why.set(keyOfVer(v), { by: '(requested)', field: 'request' });
  }
  for (const v of requested) depcache.markInstall(v.pkg, true, 0, true);
}
