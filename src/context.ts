import { setMaxListeners } from 'node:events';
import { HttpClient } from './fetch/http.js';
import type { BuildCtx } from './sources/source.js';
import { Store } from './store/store.js';
import type { Reporter } from './util/events.js';
import type { Target } from './box/target.js';
import type { BoxProbe } from './box/probe.js';
import { withBox } from './probe/load.js';
import { type Limits, limits as defaults } from './util/limits.js';
import { defaultCacheDir } from './util/cache-dir.js';

// Here for its callers; it lives in util/ so that a command needing only the path loads no HTTP client or store.
export { defaultCacheDir };

export interface CtxOptions {
  cacheDir?: string;
  report: Reporter;
  signal: AbortSignal;
  limits?: Partial<Limits>;
  manifestPath: string;
  baseDir: string;
  target: Target;
  now?: Date;
  /** The probed box the bundle is for (`--target`). */
  box?: BoxProbe;
}

/** The one place where I/O objects are made; tests build their own. */
export function makeBuildCtx(o: CtxOptions): BuildCtx {
  const l: Limits = { ...defaults, ...o.limits };
  // Every request in flight listens on the one Ctrl-C signal (and lets go when done): more than Node's default
  // of 10 at once is the design, not a leak, and its warning must not reach the user's terminal.
  setMaxListeners(Math.max(64, 8 * l.concurrency), o.signal);
  const ctx: BuildCtx = {
    http: new HttpClient(l),
    store: new Store(o.cacheDir ?? defaultCacheDir()),
    report: o.report,
    signal: o.signal,
    limits: l,
    baseDir: o.baseDir,
    manifestPath: o.manifestPath,
    target: o.target,
    now: o.now ?? new Date(),
  };
  return o.box ? withBox(ctx, o.box) : ctx;
}
