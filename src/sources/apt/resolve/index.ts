import type { InstalledRecord, PackageRecord, ResolveRequest, ResolveResult } from '../types.js';
import type { RecordTable } from '../universe.js';
import { dropUnneededInstalls } from './autoremove.js';
import { assertNothingBroken } from './broken.js';
import { PackageCache } from './cache.js';
import type { ResolveContext } from './context.js';
import { DepCache } from './depcache.js';
import { DepState } from './dep-state.js';
import { type IdMemo, PackageIds } from './package-ids.js';
import { Provenance } from './provenance.js';
import { Providers } from './providers.js';
import { findRequested, markRequested } from './request.js';
import { buildResult } from './result.js';
import { StateHistory } from './state-history.js';

export { ClosureError } from './errors.js';
export type { IdMemo } from './package-ids.js';

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
 *
 * The modules of this folder, by the part of apt they follow:
 *   model.ts          the cache's records (pkgcache.h) and their flags
 *   cache.ts          groups, packages, versions, provides (pkgcachegen.cc, deblistparser.cc)
 *   version-hash.ts   when two stanzas are one version (debListParser::VersionHash)
 *   package-ids.ts    the order apt creates packages in (CompareProviders' tie-break)
 *   policy.ts         candidate versions (policy.cc)
 *   deps.ts           dependencies of a version (deblistparser.cc, pkgcachegen.cc)
 *   state-history.ts  when each dependency's cached state was last refreshed (depcache.cc's Update)
 *   dep-state.ts      DepNow / DepInstall / DepCVer and package brokenness (depcache.cc)
 *   providers.ts      getAllPossibleSolutions and CompareProviders (depcache.cc)
 *   depcache.ts       MarkInstall, MarkKeep, MarkDelete and their helpers (depcache.cc)
 *   provenance.ts     who pulled in or tried each package (for `why` and error messages)
 *   request.ts        the request (private-install.cc, cacheset.cc)
 *   broken.ts         what apt's problem resolver would be needed for, reported instead
 *   autoremove.ts     DoAutomaticRemove's dropping of unneeded new installs (MarkAndSweep)
 *   result.ts         the closure and its `why`
 */

/**
 * Computes what `apt-get install -s <packages>` installs for the same sources (universe, in the order apt
 * reads the index files) and target status, by apt 2.6's own algorithm (see the comment above). `ids`: package
 * IDs of an earlier scan of the same stanzas, and where this one leaves them.
 */
export function resolveClosure(
  universe: readonly PackageRecord[] | RecordTable,
  installed: readonly InstalledRecord[],
  req: ResolveRequest,
  ids: IdMemo = {},
): ResolveResult {
  const cache = new PackageCache(universe, installed, req);
  const history = new StateHistory(cache);
  const depState = new DepState(cache, history, req.recommends);
  const providers = new Providers(cache, new PackageIds(cache, ids), depState);
  const provenance = new Provenance();
  const depcache = new DepCache(cache, history, depState, providers, provenance);
  const ctx: ResolveContext = { cache, depState, providers, depcache, provenance };

  // every installed package takes part (reverse dependencies, other binaries of a source, autoremove)
  for (let i = cache.nUniverse; i < cache.nStanzas; i++) cache.verOf(i);

  const why: ResolveResult['why'] = new Map();
  markRequested(depcache, findRequested(cache, req.packages), why);
  assertNothingBroken(ctx);
  dropUnneededInstalls(ctx);
  return buildResult(ctx, why);
}
