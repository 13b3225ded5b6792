import type { PackageCache } from './cache.js';
import type { DepCache } from './depcache.js';
import type { DepState } from './dep-state.js';
import type { Provenance } from './provenance.js';
import type { Providers } from './providers.js';

/** The parts of one resolve, for the phases that drive them (request, breakage check, autoremove, result). */
export interface ResolveContext {
  readonly cache: PackageCache;
  readonly depState: DepState;
  readonly providers: Providers;
  readonly depcache: DepCache;
  readonly provenance: Provenance;
}
