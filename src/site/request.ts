/**
 * A request line's target as the site reads it, refusing anything that is not a plain path below the root:
 * absolute-form URLs, `..` segments (also percent-encoded; `.` ones are dropped, RFC 3986 5.2.4), NUL and control characters, backslashes, bad
 * percent-encoding, overlong targets. A double-encoded `%252e` stays the literal text `%2e` and finds nothing.
 * The site is a list of names (never a path on disk), so what passes here can only name an entry or nothing.
 */
export const MAX_TARGET = 4096;

export type Target = { ok: true; path: string; query: URLSearchParams } | { ok: false; status: 400 | 414; why: string };

/** Read-only: shared by every target without a query. */
const NO_QUERY = new URLSearchParams();
/** Plain segments of unreserved characters, none of them `.` or `..`, no query: nothing to decode or drop. */
const PLAIN = /^(?:\/(?!\.\.?(?:\/|$))[\w~.-]+)*\/?$/;

export function parseTarget(raw: string | undefined): Target {
  if (!raw) return { ok: false, status: 400, why: 'no target' };
  if (raw.length > MAX_TARGET) return { ok: false, status: 414, why: 'target too long' };
  // The common case (apt, pip, the Hub clients ask for plain names) costs one regex test.
  if (PLAIN.test(raw)) return { ok: true, path: raw.slice(1), query: NO_QUERY };
  if (!raw.startsWith('/')) return { ok: false, status: 400, why: 'not an origin-form target' };
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const rawQuery = q < 0 ? '' : raw.slice(q + 1);
  if (rawPath.startsWith('//')) return { ok: false, status: 400, why: 'empty first segment' };
  const segs: string[] = [];
  const parts = rawPath.slice(1).split('/');
  for (const [i, s] of parts.entries()) {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      return { ok: false, status: 400, why: 'bad percent-encoding' };
    }
    if (/[\u0000-\u001f\u007f\\]/.test(d)) return { ok: false, status: 400, why: 'control character or backslash' };
    if (d === '..') return { ok: false, status: 400, why: 'dot-dot segment' };
    // `.` names the folder it is in (apt asks for `apt/./InRelease` with a flat repository's `./`): dropped.
    if (d === '.') {
      if (i === parts.length - 1) segs.push('');
      continue;
    }
    if (d.includes('/')) {
      // An encoded slash inside a segment: only the Hub's revision names may hold one (refs%2Fpr%2F1); none of ours do.
      return { ok: false, status: 400, why: 'encoded slash' };
    }
    if (d === '' && i !== parts.length - 1) return { ok: false, status: 400, why: 'empty segment' };
    segs.push(d);
  }
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(rawQuery);
  } catch {
    return { ok: false, status: 400, why: 'bad query' };
  }
  return { ok: true, path: segs.join('/'), query };
}

/** A single byte range of a `size`-byte body: undefined when absent or not one range we honour (then 200, whole). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
