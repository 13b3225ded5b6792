import { relative } from 'node:path';
import { type LoadedManifest, sectionInputsDigest } from '../manifest/load.js';
import type { Digest } from '../store/digest.js';
import { sources } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import { ManifestError } from '../util/errors.js';
import { type Lock, newLock } from './lock.js';

/** Resolves every section of the manifest through its source (sources run in parallel) into a lock. */
export async function resolveLock(m: LoadedManifest, ctx: BuildCtx, now: Date, lockDir: string): Promise<Lock> {
  return (await relock(m, ctx, now, lockDir)).lock;
}

/**
 * resolveLock, given `previous` (a lock of an earlier version of this manifest, for the same box): a section
 * whose inputs are unchanged keeps that lock's artifacts as they are, so editing one section does not move
 * the pins of the others (as cargo and npm keep what still satisfies the manifest); `kept` names them.
 */
export async function relock(m: LoadedManifest, ctx: BuildCtx, now: Date, lockDir: string, previous?: Lock): Promise<{ lock: Lock; kept: string[] }> {
  const sections: Record<string, Digest> = {};
  const kept: string[] = [];
  const parts = await Promise.all(
    sources.map(async (s) => {
      const spec = m.manifest[s.section];
      if (spec === undefined) return [] as Locked[];
      const digest = sectionInputsDigest(m.manifest, s.section);
      sections[s.section] = digest;
      if (previous?.sections?.[s.section] === digest) {
        kept.push(s.section);
        return previous.artifacts.filter((a) => a.kind === s.kind);
      }
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
  const lock = newLock({
    created: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    manifest: { path: relative(lockDir, m.path) || m.path, inputsDigest: m.inputsDigest },
    sections: Object.fromEntries(sources.filter((s) => s.section in sections).map((s) => [s.section, sections[s.section]!])),
    target: m.manifest.target,
    artifacts,
  });
  return { lock, kept: sources.filter((s) => kept.includes(s.section)).map((s) => s.section) };
}
