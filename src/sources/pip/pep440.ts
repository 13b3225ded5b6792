/**
 * PEP 440 versions and version specifiers (https://peps.python.org/pep-0440/, kept up to date as the
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
  if (postN1 !== undefined) v.post = num(postN1, s); // "Implicit post releases": 1.0-1 is 1.0.post1
  else if (postL) v.post = postN2 ? num(postN2, s) : 0;
  if (devL) v.dev = devN ? num(devN, s) : 0;
  if (local) v.local = local.toLowerCase().split(/[-_.]/).map((p) => (/^[0-9]+$/.test(p) ? num(p, s) : p));
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

// ---------------------------------------------------------------------------------------------------------
// Specifiers (PEP 440 "Version specifiers")

export type SpecOperator = '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '===';

export interface Specifier {
  op: SpecOperator;
  /** The operand as written, without surrounding whitespace (and without the `.*` of a prefix match). */
  version: string;
  /** `==V.*` / `!=V.*` prefix matching. */
  wildcard: boolean;
  /** The parsed operand; absent only for an `===` operand that is not a PEP 440 version. */
  parsed?: Version;
}

// The operand forms packaging's Specifier regex accepts for a prefix match and for `===`.
const WILDCARD_OPERAND = /^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*$/i;
const ARBITRARY_OPERAND = /^[^\s;)]*$/;

export function parseSpecifier(s: string): Specifier {
  const t = s.trim();
  const op = (['===', '~=', '==', '!=', '<=', '>=', '<', '>'] as const).find((o) => t.startsWith(o));
  const bad = (why: string) => new InvalidSpecifier(`Invalid specifier: ${JSON.stringify(s)}: ${why}`);
  if (!op) throw bad('no operator');
  const operand = t.slice(op.length).trim();
  if (op === '===') {
    // Arbitrary equality is a plain string match; the operand need not be a version.
    if (!ARBITRARY_OPERAND.test(operand)) throw bad('=== operand may not contain whitespace, ";" or ")"');
    const parsed = tryParseVersion(operand);
    return parsed ? { op, version: operand, wildcard: false, parsed } : { op, version: operand, wildcard: false };
  }
  if (operand.endsWith('.*')) {
    // Prefix matching is only defined for == and != and a release segment (optionally with an epoch).
    const prefix = operand.slice(0, -2);
    if ((op !== '==' && op !== '!=') || !WILDCARD_OPERAND.test(prefix)) throw bad('.* only follows a release segment, after == or !=');
    return { op, version: prefix, wildcard: true, parsed: parseVersion(prefix) };
  }
  const parsed = tryParseVersion(operand);
  if (!parsed) throw bad('not a PEP 440 version');
  if (parsed.local && op !== '==' && op !== '!=') throw bad('a local version label is only allowed after == or !=');
  if (op === '~=' && parsed.release.length < 2) throw bad('~= needs at least two release segments');
  return { op, version: operand, wildcard: false, parsed };
}

export function tryParseSpecifier(s: string): Specifier | undefined {
  try {
    return parseSpecifier(s);
  } catch {
    return undefined;
  }
}

/** A comma-separated specifier set; empty items are dropped, so `''` is the set that admits everything. */
export function parseSpecifierSet(s: string): Specifier[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x)
    .map(parseSpecifier);
}

export function formatSpecifierSet(set: readonly Specifier[]): string {
  return set.map((s) => `${s.op}${s.version}${s.wildcard ? '.*' : ''}`).join(',');
}

/**
 * Whether a specifier set opts in to pre-releases by naming one: any clause other than `!=` whose operand
 * is a pre-release or dev release (packaging 26 `Specifier.prereleases`; packaging 21-24, as vendored in
 * pip up to at least 24.2, did not count `<` and `>`).
 */
export function mentionsPrerelease(set: readonly Specifier[]): boolean {
  return set.some((s) => s.op !== '!=' && !s.wildcard && s.parsed !== undefined && isPrerelease(s.parsed));
}

/** PEP 440 "Version matching" prefix match: the candidate's release, zero-padded, starts with `prefix`'s. */
function prefixMatch(v: Version, prefix: Version): boolean {
  if (v.epoch !== prefix.epoch) return false;
  return prefix.release.every((n, i) => (v.release[i] ?? 0) === n);
}

function matchOne(v: Version, raw: string | undefined, s: Specifier): boolean {
  if (s.op === '===') return (raw ?? formatVersion(v)).toLowerCase() === s.version.toLowerCase();
  const spec = s.parsed!;
  // Local labels only matter to == / != with a local operand; every other clause compares the public version.
  const pub = publicVersion(v);
  switch (s.op) {
    case '==':
    case '!=': {
      const eq = s.wildcard ? prefixMatch(v, spec) : compareVersions(spec.local ? v : pub, spec) === 0;
      return s.op === '==' ? eq : !eq;
    }
    case '~=':
      // "Compatible release": ~=V.N means >=V.N, ==V.* (suffixes of the operand dropped before the last release number).
      return compareVersions(pub, spec) >= 0 && prefixMatch(v, { epoch: spec.epoch, release: spec.release.slice(0, -1) });
    case '<=':
      return compareVersions(pub, spec) <= 0;
    case '>=':
      return compareVersions(pub, spec) >= 0;
    case '<':
      // "Exclusive ordered comparison": <V does not admit V's own pre-releases (anything from V.dev0 on)
      // unless V is itself a pre-release.
      if (compareVersions(pub, spec) >= 0) return false;
      return isPrerelease(spec) || !isPrerelease(pub) || compareVersions(pub, { ...publicVersion(spec), dev: 0 }) < 0;
    case '>': {
      // >V does not admit V's post-releases unless V is itself one, nor V+local (the public-version
      // comparison already drops those).
      if (compareVersions(pub, spec) <= 0) return false;
      if (spec.post !== undefined || v.post === undefined) return true;
      const base: Version = { epoch: v.epoch, release: v.release };
      if (v.pre) base.pre = v.pre;
      return compareVersions(base, spec) !== 0;
    }
  }
}

export interface PrereleaseOption {
  /**
   * true: pre-releases (and dev releases) may match; false: they never do; absent: only when the set
   * names a pre-release itself (see mentionsPrerelease).
   */
  prereleases?: boolean;
}

/**
 * Whether one version satisfies every clause of a specifier set. For a single version the PEP's other
 * opt-in, "the only available version that satisfies the version specifier is a pre-release", cannot be
 * judged: that needs the candidate list, which is what filterVersions does.
 */
export function satisfies(version: string | Version, set: string | readonly Specifier[], opts: PrereleaseOption = {}): boolean {
  const specs = typeof set === 'string' ? parseSpecifierSet(set) : set;
  const raw = typeof version === 'string' ? version.trim() : undefined;
  const v = typeof version === 'string' ? tryParseVersion(version) : version;
  // A string that is not a version can only meet === clauses.
  if (!v) return specs.every((s) => s.op === '===' && s.version.toLowerCase() === raw!.toLowerCase());
  if (isPrerelease(v) && !(opts.prereleases ?? mentionsPrerelease(specs))) return false;
  return specs.every((s) => matchOne(v, raw, s));
}

/**
 * The candidates that satisfy a specifier set, in their given order, with PEP 440's default handling of
 * pre-releases ("Handling of pre-releases"): excluded, unless the set names one, or prereleases is true,
 * or no final release matches, in which case the matching pre-releases are returned
 * (packaging 26 SpecifierSet.filter).
 */
export function filterVersions<T>(
  items: readonly T[],
  set: string | readonly Specifier[],
  opts: PrereleaseOption & { key?: (item: T) => string | Version } = {},
): T[] {
  const specs = typeof set === 'string' ? parseSpecifierSet(set) : set;
  const key = opts.key ?? ((x: T) => x as unknown as string | Version);
  const matches: { item: T; pre: boolean; parsed: boolean }[] = [];
  for (const item of items) {
    const k = key(item);
    if (!satisfies(k, specs, { prereleases: true })) continue;
    const v = typeof k === 'string' ? tryParseVersion(k) : k;
    matches.push({ item, pre: v !== undefined && isPrerelease(v), parsed: v !== undefined });
  }
  const allow = opts.prereleases ?? (mentionsPrerelease(specs) ? true : undefined);
  if (allow === true) return matches.map((m) => m.item);
  if (allow === false || matches.some((m) => m.parsed && !m.pre)) return matches.filter((m) => !m.pre).map((m) => m.item);
  return matches.map((m) => m.item);
}

/** PEP 503 name normalisation: lower-case, every run of `-`, `_` and `.` becomes one `-`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
