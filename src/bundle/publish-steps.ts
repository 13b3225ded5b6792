import { loadIndex } from './load.js';
import type { Media } from './media.js';
import { VERIFY_SH, WRAPPER_SH, fieldReadme } from '../runtime/carry.js';
import type { Lock } from '../lock/lock.js';
import type { Manifest } from '../manifest/schema.js';
import { sources } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import { UsageError } from '../util/errors.js';
import { checkSpace } from '../util/space.js';

/** The steps of a build that are not its sequence: room, the delta's base, the expiry, the views and scripts. */

/** The files each kind adds beside its blobs (the apt repository, pip's requirements): the registry's views. */
export function viewsOf(lock: Lock): Record<string, string> {
  const views: Record<string, string> = {};
  for (const s of sources) {
    const items = lock.artifacts.filter((a) => a.kind === s.kind);
    if (items.length && s.views) Object.assign(views, s.views(items));
  }
  return views;
}

/** The sh entry points and the field README of a bundle that carries a runtime; none without one. */
export function scriptsOf(m: Manifest, withRuntime: boolean): Record<string, string> {
  return withRuntime ? { verify: VERIFY_SH, 'vault-bundle': WRAPPER_SH, 'README-FIELD.txt': fieldReadme(m.name, m.version) } : {};
}

/**
 * Room for what is not in the cache yet, and for the output: a folder holds copies of the cached blobs (a
 * reflink costs nothing, but whether the file system makes one is known only when it does); a tar or parts are
 * written in full (fat32 also assembles the folder beside them first).
 */
export async function checkBuildSpace(toFetch: readonly Locked[], ctx: BuildCtx, out: string, media: Media, tar: string | undefined): Promise<void> {
  let missing = 0;
  for (const a of toFetch) if (!(await ctx.store.has(a.digest, a.size))) missing += a.size;
  const total = toFetch.reduce((n, a) => n + a.size, 0);
  await checkSpace([
    { path: ctx.store.root, bytes: missing, what: 'downloads into the cache' },
    { path: out, bytes: total, what: 'the bundle folder (copies of the cached blobs, never links)' },
    ...(media === 'fat32' ? [{ path: out, bytes: total, what: 'the parts' }] : []),
    ...(tar ? [{ path: tar, bytes: total, what: 'the tar' }] : []),
  ]);
}

/**
 * The base of a delta build: a bundle in any form (read through its index), or its bundle.json alone (the
 * release engineer may keep only that). Only the same bundle name can be a base.
 */
export async function readBase(
  location: string,
  name: string,
): Promise<{ name: string; version: string; indexDigest: `sha256:${string}`; digests: Set<string>; artifacts: Locked[] }> {
  const { index: idx, sha256 } = await loadIndex(location);
  if (idx.name !== name) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--base ${location} is bundle "${idx.name}", this manifest builds "${name}"`,
      subject: location,
      hint: 'a delta is built over an older version of the same bundle',
    });
  }
  if (idx.base) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--base ${location} is itself a delta (over ${idx.base.name} ${idx.base.version})`,
      subject: location,
      hint: 'build deltas over a full bundle',
    });
  }
  return {
    name: idx.name,
    version: idx.version,
    indexDigest: `sha256:${sha256}`,
    digests: new Set(idx.artifacts.map((a) => a.digest)),
    artifacts: idx.artifacts,
  };
}

/**
 * `--expires`: an ISO 8601 date or time, or a duration (days, weeks, hours) counted from the bundle's `created`
 * time, so the same lock gives the same bundle.json. An expiry that is already past is refused.
 */
export function expiryOf(value: string, created: string, now: Date): string {
  const v = value.trim();
  const rel = /^(\d+)([hdw])$/.exec(v);
  const hours = { h: 1, d: 24, w: 24 * 7 } as const;
  let t = NaN;
  if (rel) t = Date.parse(created) + Number(rel[1]) * hours[rel[2] as keyof typeof hours] * 3_600_000;
  else if (/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    // A date alone, or a time without a zone, is UTC.
    t = Date.parse(/[T ]/.test(v) && !/(?:Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v}Z` : v);
  }
  if (!Number.isFinite(t)) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--expires ${value}: expected an ISO 8601 date or time (2027-06-30, 2027-06-30T12:00:00Z) or a duration such as 90d, 12w or 36h`,
      subject: '--expires',
    });
  }
  const iso = new Date(t).toISOString();
  if (t <= now.getTime()) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--expires ${value} is ${iso}, which has already passed${rel ? ` (counted from the bundle's created time ${created})` : ''}`,
      subject: '--expires',
      hint: rel
        ? 'the lock is older than that: give a later date, or lock again (or set SOURCE_DATE_EPOCH) for a newer created time'
        : 'give a date in the future',
    });
  }
  return iso;
}
