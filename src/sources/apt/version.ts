/**
 * dpkg's version ordering (Debian Policy §5.6.12; dpkg lib/dpkg/version.c verrevcmp): epoch numerically,
 * then upstream version and Debian revision compared as alternating non-digit and digit runs, where in the
 * non-digit runs `~` sorts before everything (even the end), letters before non-letters.
 */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

export function parseVersion(v: string): DebVersion {
  const s = v.trim();
  const colon = s.indexOf(':');
  const epoch = colon > 0 ? Number(s.slice(0, colon)) : 0;
  const rest = colon > 0 ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return {
    epoch: Number.isFinite(epoch) ? epoch : 0,
    upstream: dash >= 0 ? rest.slice(0, dash) : rest,
    revision: dash >= 0 ? rest.slice(dash + 1) : '',
  };
}

function order(c: number): number {
  // c is a char code, or 0 for "end of string".
  if (c === 0x7e) return -1; // '~'
  if (c >= 0x30 && c <= 0x39) return 0; // digit (not reached in the non-digit loop)
  if (c === 0) return 0;
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return c;
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = i < a.length ? order(a.charCodeAt(i)) : 0;
      const bc = j < b.length ? order(b.charCodeAt(j)) : 0;
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 0x30) i++;
    while (b.charCodeAt(j) === 0x30) j++;
    while (i < a.length && isDigit(a.charCodeAt(i)) && j < b.length && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

const cache = new Map<string, DebVersion>();

export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  let va = cache.get(a);
  if (!va) cache.set(a, (va = parseVersion(a)));
  let vb = cache.get(b);
  if (!vb) cache.set(b, (vb = parseVersion(b)));
  if (va.epoch !== vb.epoch) return va.epoch - vb.epoch;
  return verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision);
}

export type RelOp = '<<' | '<=' | '=' | '>=' | '>>';

/** Whether `version` satisfies `op wanted` (the obsolete `<` and `>` mean `<=` and `>=`). */
export function satisfies(version: string, op: RelOp | '<' | '>', wanted: string): boolean {
  const c = compareVersions(version, wanted);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
    case '<':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
    case '>':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}
