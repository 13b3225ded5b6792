import type { RelOp } from './version.js';

/** One alternative of a relationship: `name[:arch] [(op version)]`. */
export interface Relation {
  name: string;
  /** `any`, `native`, or an architecture name, when the field qualifies it. */
  arch?: string;
  op?: RelOp;
  version?: string;
}

/** A relationship field: AND of OR-groups (Debian Policy §7.1). */
export type Relations = Relation[][];

const REL = /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/;

const cache = new Map<string, Relations>();

/** Parses Depends/Pre-Depends/Recommends/Provides/Conflicts/Breaks; architecture and profile restrictions are dropped. */
export function parseRelations(field: string | undefined): Relations {
  if (!field) return [];
  const hit = cache.get(field);
  if (hit) return hit;
  const out: Relations = [];
  for (const group of field.split(',')) {
    const alts: Relation[] = [];
    for (const alt of group.split('|')) {
      const t = alt.trim();
      if (!t) continue;
      const m = REL.exec(t);
      if (!m) continue;
      const op = m[3] === '<' ? '<=' : m[3] === '>' ? '>=' : (m[3] as RelOp | undefined);
      alts.push({ name: m[1]!, ...(m[2] ? { arch: m[2] } : {}), ...(op ? { op, version: m[4]! } : {}) });
    }
    if (alts.length) out.push(alts);
  }
  cache.set(field, out);
  return out;
}
