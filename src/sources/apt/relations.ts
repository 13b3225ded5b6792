import type { RelOp } from './version.js';

/** One alternative of a relationship: `name[:arch] [(op version)]`. */
export interface Relation {
  name: string;
  /** `any`, `native`, or an architecture name, when the field qualifies it (`perl:any`, `libc6:amd64`). */
  arch?: string;
  op?: RelOp;
  version?: string;
}

/** A relationship field: AND of OR-groups (Debian Policy §7.1). */
export type Relations = Relation[][];

const cache = new Map<string, Relations>();

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * One alternative, as apt's debListParser::ParseDepends reads it: the name runs to white space or one of
 * `( ) , | [ ] < >`; then an optional `(op version)`, where a lone `<` or `>` is the obsolete spelling of
 * `<=` and `>=`; then `[arch list]` and `<build profile>` restrictions, which are dropped (they only occur in
 * source package relations). Returns undefined for an alternative apt would reject.
 */
function parseAlternative(s: string): Relation | undefined {
  let i = 0;
  const n = s.length;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  const start = i;
  for (; i < n; i++) {
    const c = s[i]!;
    if (isSpace(s.charCodeAt(i)) || c === '(' || c === ')' || c === '[' || c === ']' || c === '<' || c === '>') break;
  }
  if (i === start) return undefined;
  let name = s.slice(start, i);
  let arch: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > 0) {
    arch = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  let op: RelOp | undefined;
  let version: string | undefined;
  if (s[i] === '(') {
    i++;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    const a = s[i];
    const b = s[i + 1];
    if (a === '<') {
      if (b === '<') {
        op = '<<';
        i += 2;
      } else if (b === '=') {
        op = '<=';
        i += 2;
      } else {
        op = '<=';
        i += 1;
      }
    } else if (a === '>') {
      if (b === '>') {
        op = '>>';
        i += 2;
      } else if (b === '=') {
        op = '>=';
        i += 2;
      } else {
        op = '>=';
        i += 1;
      }
    } else if (a === '=') {
      op = '=';
      i += b === '=' ? 2 : 1;
    } else return undefined;
    const close = s.indexOf(')', i);
    if (close < 0) return undefined;
    version = s.slice(i, close).trim();
    if (!version) return undefined;
  }
  // Architecture restrictions and build profiles: dropped.
  return { name, ...(arch ? { arch } : {}), ...(op ? { op, version } : {}) };
}

/**
 * Parses Depends, Pre-Depends, Recommends, Suggests, Provides, Conflicts, Breaks, Replaces and Enhances:
 * comma-separated groups of `|` alternatives. Results are cached by field text (many packages share them)
 * and must not be mutated; `keep` false parses without caching (a pass over every stanza of the indexes).
 */
export function parseRelations(field: string | undefined, keep = true): Relations {
  if (!field) return [];
  const hit = cache.get(field);
  if (hit) return hit;
  const out: Relations = [];
  for (const group of field.split(',')) {
    const alts: Relation[] = [];
    for (const alt of group.split('|')) {
      const r = parseAlternative(alt);
      if (r) alts.push(r);
    }
    if (alts.length) out.push(alts);
  }
  if (keep) cache.set(field, out);
  return out;
}

/** A relation as written in a control field: `name[:arch] (op version)`. */
export function formatRelation(r: Relation): string {
  return `${r.name}${r.arch ? `:${r.arch}` : ''}${r.op ? ` (${r.op} ${r.version})` : ''}`;
}
