import { relative } from 'node:path';
import type { LoadedManifest } from '../manifest/load.js';
import { sources } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import { ManifestError } from '../util/errors.js';
import { type Lock, newLock } from './lock.js';

/** Resolves every section of the manifest through its source (sources run in parallel) into a lock. */
export async function resolveLock(m: LoadedManifest, ctx: BuildCtx, now: Date, lockDir: string): Promise<Lock> {
  const parts = await Promise.all(
    sources.map(async (s) => {
      const spec = m.manifest[s.section];
      if (spec === undefined) return [] as Locked[];
      ctx.report({ type: 'phase', phase: 'resolve', detail: s.kind });
      return s.resolve(spec as never, ctx);
    }),
  );
  const artifacts = parts.flat();
  const ids = new Set<string>();
  for (const a of artifacts) {
    if (ids.has(a.id)) {
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `${m.path}: artifact ${a.id} is listed twice`,
        subject: a.id,
        hint: 'remove the duplicate entry',
      });
    }
    ids.add(a.id);
  }
  return newLock({
    created: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    manifest: { path: relative(lockDir, m.path) || m.path, inputsDigest: m.inputsDigest },
    target: m.manifest.target,
    artifacts,
  });
}
