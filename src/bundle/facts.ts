import { sources } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';

/**
 * bundle.json's artifacts: the lock's, each with the facts its source read from the fetched bytes added to its
 * meta (apt: the licence in the .deb's copyright file). The facts are a function of bytes the lock pins by
 * sha256, so the SBOM, made from bundle.json, still says only what the lock determines. A delta's artifacts
 * that only its base holds take the facts of the base's bundle.json (same id and digest).
 */
export async function withFacts(artifacts: readonly Locked[], base: readonly Locked[] | undefined, ctx: BuildCtx): Promise<Locked[]> {
  const facts = new Map<string, Record<string, string>>();
  for (const s of sources) {
    const items = artifacts.filter((a) => a.kind === s.kind);
    if (!s.facts || items.length === 0) continue;
    for (const [id, f] of await s.facts(items, ctx)) facts.set(id, f);
  }
  const fromBase = new Map((base ?? []).map((b) => [`${b.id}\0${b.digest}`, b]));
  return artifacts.map((a) => {
    let f = facts.get(a.id);
    if (!f) {
      const b = fromBase.get(`${a.id}\0${a.digest}`);
      const extra = Object.entries(b?.meta ?? {}).filter(([k]) => a.meta?.[k] === undefined);
      if (extra.length) f = Object.fromEntries(extra);
    }
    return f ? { ...a, meta: { ...a.meta, ...f } } : a;
  });
}
