/**
 * PEP 440 versions (specifiers.ts: version specifiers) (https://peps.python.org/pep-0440/, kept up to date as the
 * "Version specifiers" spec on packaging.python.org). Where the PEP leaves room (which specifiers opt in to
 * pre-releases, the corners of the exclusive `<V` / `>V` rules), this follows pypa/packaging 26
 * (`packaging.version`, `packaging.specifiers`), the library pip vendors; test/pip-core.test.ts checks it
 * against the real library.
 *
 * Numbers are JavaScript numbers: a version with a component above 2^53 - 1 is refused rather than
 * compared wrongly (Python's ints are unbounded; no such version is known on PyPI).
 */

export class InvalidVersion extends Error {
  override name = 'InvalidVersion';
}

export class InvalidSpecifier extends Error {
  override name = 'InvalidSpecifier';
}

export type PreLabel = 'a' | 'b' | 'rc';

/** A parsed version, already normalised: `pre` labels are a/b/rc, missing numbers are 0, local segments are lower-case. */
export interface Version {
  epoch: number;
  release: number[];
  pre?: [PreLabel, number];
  post?: number;
  dev?: number;
  /** Numeric segments as numbers, the others as lower-case strings (PEP 440 "Local version identifiers"). */
  local?: (number | string)[];
}

// packaging's VERSION_PATTERN (the PEP's appendix B regex), anchored, with surrounding whitespace allowed.
const VERSION_RE =
  /^\s*v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?(?:[-_.]?(dev)[-_.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;

// PEP 440 "Pre-release spelling": alpha, beta, c, pre and preview are spellings of a, b and rc.
const PRE_SPELLING: Record<string, PreLabel> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

function num(digits: string, whole: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) throw new InvalidVersion(`Invalid version: ${JSON.stringify(whole)} (number ${digits} too large)`);
  return n;
}

/** Undefined for a string that is not a version; throws InvalidVersion only for an over-large number. */
function parse(s: string): Version | undefined {
  const m = VERSION_RE.exec(s);
  if (!m) return undefined;
  const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m;
  const v: Version = { epoch: epoch ? num(epoch, s) : 0, release: release!.split('.').map((d) => num(d, s)) };
  // Implicit numbers are 0 (PEP 440 "Implicit pre-release number", "Implicit post release number", ...).
  if (preL) v.pre = [PRE_SPELLING[preL.toLowerCase()]!, preN ? num(preN, s) : 0];
  if (postN1 !== undefined)
    v.post = num(postN1, s); // "Implicit post releases": 1.0-1 is 1.0.post1
  else if (postL) v.post = postN2 ? num(postN2, s) : 0;
  if (devL) v.dev = devN ? num(devN, s) : 0;
  if (local)
    v.local = local
      .toLowerCase()
      .split(/[-_.]/)
      .map((p) => (/^[0-9]+$/.test(p) ? num(p, s) : p));
  return v;
}

export function tryParseVersion(s: string): Version | undefined {
  try {
    return parse(s);
  } catch (e) {
    if (e instanceof InvalidVersion) return undefined;
    throw e;
  }
}

export function parseVersion(s: string): Version {
  const v = parse(s);
  if (!v) throw new InvalidVersion(`Invalid version: ${JSON.stringify(s)}`);
  return v;
}

/** The normalised form (PEP 440 "Normalization"), as `str(packaging.version.Version(v))`. */
export function formatVersion(v: Version): string {
  let s = (v.epoch ? `${v.epoch}!` : '') + v.release.join('.');
  if (v.pre) s += `${v.pre[0]}${v.pre[1]}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

export function normalizeVersion(s: string): string {
  return formatVersion(parseVersion(s));
}

/** Dev releases count as pre-releases (PEP 440 "Handling of pre-releases"). */
export function isPrerelease(v: Version): boolean {
  return v.pre !== undefined || v.dev !== undefined;
}

/** The version without its local label. */
export function publicVersion(v: Version): Version {
  if (!v.local) return v;
  const { local: _local, ...pub } = v;
  return pub;
}

const cache = new Map<string, Version>();

function toVersion(v: string | Version): Version {
  if (typeof v !== 'string') return v;
  let p = cache.get(v);
  if (!p) {
    if (cache.size > 50_000) cache.clear();
    cache.set(v, (p = parseVersion(v)));
  }
  return p;
}

function cmpNum(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// packaging's _cmpkey: sentinel ranks stand in for its Infinity / NegativeInfinity.
const NEG = -1;
const POS = 1;

function preKey(v: Version): [number, string, number] {
  // A dev release with no pre or post sorts before the pre-releases of the same release: 1.0.dev0 < 1.0a0.
  if (!v.pre && v.post === undefined && v.dev !== undefined) return [NEG, '', 0];
  if (!v.pre) return [POS, '', 0];
  return [0, v.pre[0], v.pre[1]]; // 'a' < 'b' < 'rc' as strings
}

function cmpLocal(a: Version['local'], b: Version['local']): number {
  if (!a || !b) return a ? 1 : b ? -1 : 0; // no local label sorts first
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    // PEP 440: numeric segments sort above alphanumeric ones; numbers numerically, strings lexically.
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return cmpNum(x, y);
    } else if (typeof x === 'number') return 1;
    else if (typeof y === 'number') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return cmpNum(a.length, b.length); // an exact prefix sorts first
}

/** PEP 440 ordering: epoch, release (trailing zeros ignored), then dev < pre < final < post, then the local label. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const x = toVersion(a);
  const y = toVersion(b);
  if (x.epoch !== y.epoch) return cmpNum(x.epoch, y.epoch);
  for (let i = 0; i < Math.max(x.release.length, y.release.length); i++) {
    const c = cmpNum(x.release[i] ?? 0, y.release[i] ?? 0);
    if (c) return c;
  }
  const [xr, xl, xn] = preKey(x);
  const [yr, yl, yn] = preKey(y);
  if (xr !== yr) return cmpNum(xr, yr);
  if (xl !== yl) return xl < yl ? -1 : 1;
  if (xn !== yn) return cmpNum(xn, yn);
  // No post release sorts before any post release; no dev release sorts after any dev release.
  if (x.post !== y.post) return x.post === undefined ? -1 : y.post === undefined ? 1 : cmpNum(x.post, y.post);
  if (x.dev !== y.dev) return x.dev === undefined ? 1 : y.dev === undefined ? -1 : cmpNum(x.dev, y.dev);
  return cmpLocal(x.local, y.local);
}

/** PEP 503 name normalisation: lower-case, every run of `-`, `_` and `.` becomes one `-`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
