/**
 * PEP 508 environment markers (requirement.ts: requirement strings) (https://peps.python.org/pep-0508/, kept as the
 * "Dependency specifiers" spec on packaging.python.org), as found in a wheel's METADATA `Requires-Dist`.
 * The grammar is pypa/packaging's (`_tokenizer.py`, `_parser.py`), which is what pip parses with.
 */
import { normalizeName, tryParseVersion } from './pep440.js';
import { satisfies, tryParseSpecifier } from './specifiers.js';

export class InvalidMarker extends Error {
  override name = 'InvalidMarker';
}

export class InvalidRequirement extends Error {
  override name = 'InvalidRequirement';
}

/** The PEP 508 marker variables, for one target interpreter. `extra` is the extra being installed ('' for none). */
export interface MarkerEnv {
  python_version: string;
  python_full_version: string;
  os_name: string;
  sys_platform: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  platform_machine: string;
  platform_python_implementation: string;
  implementation_name: string;
  implementation_version: string;
  extra?: string;
}

export type MarkerVariable = keyof MarkerEnv;
export type MarkerOp = '===' | '==' | '~=' | '!=' | '<=' | '>=' | '<' | '>' | 'in' | 'not in';
export type MarkerValue = { var: MarkerVariable } | { str: string };
export type Marker = { op: MarkerOp; lhs: MarkerValue; rhs: MarkerValue } | { and: Marker[] } | { or: Marker[] };

// packaging's tokenizer rules. The dotted names are the old PEP 345 spellings; python_implementation is
// an alias of platform_python_implementation.
export const RULES = {
  ws: /[ \t]+/y,
  lparen: /\(/y,
  rparen: /\)/y,
  string: /'([^']*)'|"([^"]*)"/y,
  op: /===|==|~=|!=|<=|>=|<|>/y,
  boolop: /\b(or|and)\b/y,
  in: /\bin\b/y,
  not: /\bnot\b/y,
  variable:
    /\b(python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)|platform[._](?:version|machine|python_implementation)|python_implementation|implementation_(?:name|version)|extra)\b/y,
} as const;

export class Cursor {
  pos = 0;
  constructor(
    readonly src: string,
    readonly fail: (msg: string, pos: number) => Error,
  ) {}
  peek(rule: RegExp): RegExpExecArray | null {
    rule.lastIndex = this.pos;
    return rule.exec(this.src);
  }
  take(rule: RegExp): RegExpExecArray | null {
    const m = this.peek(rule);
    if (m) this.pos += m[0].length;
    return m;
  }
  ws(): void {
    this.take(RULES.ws);
  }
  expect(rule: RegExp, what: string): RegExpExecArray {
    const m = this.take(rule);
    if (!m) throw this.fail(`expected ${what}`, this.pos);
    return m;
  }
  get done(): boolean {
    return this.pos >= this.src.length;
  }
}

function markerError(src: string) {
  return (msg: string, pos: number) => new InvalidMarker(`Invalid marker ${JSON.stringify(src)}: ${msg} at ${pos}`);
}

function parseVar(c: Cursor): MarkerValue {
  const v = c.take(RULES.variable);
  if (v) {
    const name = v[1]!.replace('.', '_');
    return { var: (name === 'python_implementation' ? 'platform_python_implementation' : name) as MarkerVariable };
  }
  const s = c.take(RULES.string);
  if (s) return { str: s[1] ?? s[2]! };
  throw c.fail('a marker variable or a quoted string', c.pos);
}

function parseItem(c: Cursor): Marker {
  c.ws();
  const lhs = parseVar(c);
  c.ws();
  let op: MarkerOp;
  if (c.take(RULES.in)) op = 'in';
  else if (c.take(RULES.not)) {
    c.expect(RULES.ws, "whitespace after 'not'");
    c.expect(RULES.in, "'in' after 'not'");
    op = 'not in';
  } else op = c.expect(RULES.op, 'a marker operator')[0] as MarkerOp;
  c.ws();
  const rhs = parseVar(c);
  c.ws();
  return { op, lhs, rhs };
}

function parseAtom(c: Cursor): Marker {
  c.ws();
  let m: Marker;
  if (c.take(RULES.lparen)) {
    c.ws();
    m = parseOr(c);
    c.ws();
    c.expect(RULES.rparen, "')'");
  } else m = parseItem(c);
  c.ws();
  return m;
}

// `and` binds tighter than `or` (PEP 508 grammar: marker_or / marker_and).
export function parseOr(c: Cursor): Marker {
  const ors: Marker[] = [];
  let ands: Marker[] = [parseAtom(c)];
  for (let b = c.peek(RULES.boolop); b; b = c.peek(RULES.boolop)) {
    c.take(RULES.boolop);
    if (b[1] === 'or') {
      ors.push(ands.length === 1 ? ands[0]! : { and: ands });
      ands = [];
    }
    ands.push(parseAtom(c));
  }
  ors.push(ands.length === 1 ? ands[0]! : { and: ands });
  return ors.length === 1 ? ors[0]! : { or: ors };
}

export function parseMarker(expr: string): Marker {
  const c = new Cursor(expr, markerError(expr));
  const m = parseOr(c);
  if (!c.done) throw c.fail('end of marker or a boolean operator', c.pos);
  return m;
}

export class UndefinedComparison extends Error {
  override name = 'UndefinedComparison';
}

/**
 * One comparison. PEP 508: when the right side, with the operator, is a PEP 440 specifier and the left
 * side is a PEP 440 version, compare as versions (packaging does this as `Specifier(op + rhs).contains(lhs,
 * prereleases=True)`, so `python_full_version < "3.13"` is false for 3.13.0rc1 and `== "3.*"` prefix-matches);
 * otherwise as Python strings, where `~=` is undefined. `in` / `not in` are substring tests.
 */
function compare(lhs: string, op: MarkerOp, rhs: string): boolean {
  if (op === 'in') return rhs.includes(lhs);
  if (op === 'not in') return !rhs.includes(lhs);
  if (op === '===') return lhs.toLowerCase() === rhs.toLowerCase(); // arbitrary equality is a string match
  const spec = tryParseSpecifier(op + rhs);
  const version = spec && tryParseVersion(lhs);
  if (spec && version) return satisfies(version, [spec], { prereleases: true });
  switch (op) {
    case '==':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '<':
      return lhs < rhs;
    case '<=':
      return lhs <= rhs;
    case '>':
      return lhs > rhs;
    case '>=':
      return lhs >= rhs;
    case '~=':
      throw new UndefinedComparison(`Undefined ~= on ${JSON.stringify(lhs)} and ${JSON.stringify(rhs)}: not versions`);
  }
}

function lookup(v: MarkerValue, env: MarkerEnv): string {
  if ('str' in v) return v.str;
  const x = v.var === 'extra' ? (env.extra ?? '') : env[v.var];
  if (typeof x !== 'string') throw new UndefinedComparison(`marker variable ${v.var} is not in the environment`);
  return x;
}

function evaluate(m: Marker, env: MarkerEnv): boolean {
  if ('and' in m) return m.and.every((x) => evaluate(x, env));
  if ('or' in m) return m.or.some((x) => evaluate(x, env));
  let lhs = lookup(m.lhs, env);
  let rhs = lookup(m.rhs, env);
  // PEP 685: extra names are compared PEP 503-normalised on both sides.
  if (('var' in m.lhs && m.lhs.var === 'extra') || ('var' in m.rhs && m.rhs.var === 'extra')) {
    lhs = normalizeName(lhs);
    rhs = normalizeName(rhs);
  }
  return compare(lhs, m.op, rhs);
}

export function evaluateMarker(expr: string | Marker, env: MarkerEnv): boolean {
  return evaluate(typeof expr === 'string' ? parseMarker(expr) : expr, env);
}

export interface TargetEnvOptions {
  /** '3.12' or '3.12.3'; with no patch level, python_full_version is taken as X.Y.0. */
  python: string;
  platform?: 'linux' | 'win32' | 'darwin';
  machine?: string;
  /** `platform.release()` / `platform.version()` of the target, when known (e.g. '6.8.0-45-generic'). */
  release?: string;
  kernelVersion?: string;
  extra?: string;
}

const PLATFORMS = {
  linux: { os_name: 'posix', platform_system: 'Linux' },
  win32: { os_name: 'nt', platform_system: 'Windows' },
  darwin: { os_name: 'posix', platform_system: 'Darwin' },
} as const;

/** The marker environment of a CPython target, as `packaging.markers.default_environment()` would report it there. */
export function targetEnv(o: TargetEnvOptions): MarkerEnv {
  const parts = o.python.split('.');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => /^[0-9]+$/.test(p)))
    throw new Error(`python must be X.Y or X.Y.Z, not ${JSON.stringify(o.python)}`);
  const full = parts.length === 2 ? `${o.python}.0` : o.python;
  const platform = o.platform ?? 'linux';
  const env: MarkerEnv = {
    python_version: `${parts[0]}.${parts[1]}`,
    python_full_version: full,
    ...PLATFORMS[platform],
    sys_platform: platform,
    platform_release: o.release ?? '',
    platform_version: o.kernelVersion ?? '',
    platform_machine: o.machine ?? 'x86_64',
    platform_python_implementation: 'CPython',
    implementation_name: 'cpython',
    implementation_version: full,
  };
  if (o.extra !== undefined) env.extra = o.extra;
  return env;
}
