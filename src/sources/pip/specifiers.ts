/** PEP 440 "Version specifiers": parsing, matching and the pre-release rules, as pypa/packaging applies them. */
import { InvalidSpecifier, type Version, compareVersions, formatVersion, isPrerelease, parseVersion, publicVersion, tryParseVersion } from './pep440.js';

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
