import type { Manifest } from '../manifest/schema.js';
import { sources } from '../sources/registry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import type { Reporter } from '../util/events.js';

export interface WithFactsOptions {
  /** The manifest: each source reads its own section's settings (apt.licences). */
  manifest?: Manifest;
  /** Resolves once an artifact's blob is in the store (false: it will not come); absent: all are there. */
  stored?: (a: Locked) => Promise<boolean>;
  /** Resolves when the downloads are over. */
  fetchOver?: Promise<void>;
}

/**
 * bundle.json's artifacts: the lock's, each with the facts its source read from the fetched bytes added to its
 * meta (apt: the licence in the .deb's copyright file). The facts are a function of bytes the lock pins by
 * sha256 and of the manifest's settings, so the SBOM, made from bundle.json, says only what those determine. A
 * delta's artifacts that only its base holds take the facts of the base's bundle.json (same id and digest).
 */
export async function withFacts(artifacts: readonly Locked[], base: readonly Locked[] | undefined, ctx: BuildCtx, o: WithFactsOptions = {}): Promise<Locked[]> {
  const facts = new Map<string, Record<string, string>>();
  const section = (s: string) => (o.manifest as Record<string, unknown> | undefined)?.[s];
  await Promise.all(
    sources.map(async (s) => {
      const items = artifacts.filter((a) => a.kind === s.kind);
      if (!s.facts || items.length === 0) return;
      const spec = section(s.section) as never;
      const when = { ...(o.stored ? { stored: o.stored } : {}), ...(o.fetchOver ? { fetchOver: o.fetchOver } : {}) };
      for (const [id, f] of await s.facts(items, ctx, { spec, ...when })) facts.set(id, f);
    }),
  );
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

/**
 * withFacts started before the downloads: each blob is read as soon as the fetch reports it done (cached or
 * downloaded), instead of after the last download. Give the fetch `report`; call `finish` once it has ended
 * (ok: every blob is in; not ok: what has not come will not), then await `facts`.
 */
export function factsAlongside(
  artifacts: readonly Locked[],
  base: readonly Locked[] | undefined,
  ctx: BuildCtx,
  o: { manifest: Manifest; fetched: readonly Locked[] },
): { report: Reporter; finish(ok: boolean): void; facts: Promise<Locked[]> } {
  const waiting = new Map<string, { promise: Promise<boolean>; resolve: (ok: boolean) => void }>();
  for (const a of o.fetched) {
    if (waiting.has(a.digest)) continue;
    let resolve!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    waiting.set(a.digest, { promise, resolve });
  }
  const digestOfId = new Map(o.fetched.map((a) => [a.id, a.digest]));
  let over: boolean | undefined;
  let ended!: () => void;
  const fetchOver = new Promise<void>((r) => (ended = r));
  // Not fetched (a delta's base holds it): the store says whether it is there.
  const stored = (a: Locked) => (over === false ? Promise.resolve(false) : (waiting.get(a.digest)?.promise ?? Promise.resolve(true)));
  const facts = withFacts(artifacts, base, ctx, { manifest: o.manifest, stored, fetchOver });
  facts.catch(() => undefined); // handled where it is awaited
  return {
    report: (e) => {
      ctx.report(e);
      if (e.type === 'download:done') waiting.get(digestOfId.get(e.id) ?? '')?.resolve(true);
    },
    finish(ok) {
      over = ok;
      for (const w of waiting.values()) w.resolve(ok);
      ended();
    },
    facts,
  };
}
