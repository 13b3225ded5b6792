/** PEP 508 requirement strings (`specification`), as found in a wheel's METADATA `Requires-Dist`. */
import { Cursor, InvalidRequirement, type Marker, RULES, parseOr } from './markers.js';
import { normalizeName } from './pep440.js';
import { type Specifier, parseSpecifierSet } from './specifiers.js';

export interface Requirement {
  /** The name as written; compare names through `normalizedName`. */
  name: string;
  normalizedName: string;
  /** As written, in order. */
  extras: string[];
  /** The version clauses, comma-joined without spaces or parentheses ('' for none). */
  specifier: string;
  specifiers: Specifier[];
  /** A direct reference (`name @ url`); a bundle builder should refuse these rather than fetch them. */
  url?: string;
  /** The marker text after `;`, and its parse. */
  marker?: string;
  markerTree?: Marker;
}

const IDENT = /\b[a-zA-Z0-9][a-zA-Z0-9._-]*\b/y;

export function parseRequirement(line: string): Requirement {
  const fail = (msg: string, pos: number) => new InvalidRequirement(`Invalid requirement ${JSON.stringify(line)}: ${msg} at ${pos}`);
  const c = new Cursor(line, fail);
  c.ws();
  const name = c.expect(IDENT, 'a package name')[0];
  c.ws();
  const extras: string[] = [];
  if (c.take(/\[/y)) {
    c.ws();
    const first = c.take(IDENT);
    if (first) {
      extras.push(first[0]);
      for (;;) {
        c.ws();
        if (!c.take(/,/y)) break;
        c.ws();
        extras.push(c.expect(IDENT, 'an extra name after ","')[0]);
      }
    }
    c.expect(/\]/y, "']' after the extras");
    c.ws();
  }
  const req: Requirement = { name, normalizedName: normalizeName(name), extras, specifier: '', specifiers: [] };
  let markerText: string | undefined;
  if (c.take(/@/y)) {
    c.ws();
    req.url = c.expect(/[^ \t]+/y, 'a URL after @')[0];
    // The URL runs to whitespace, so a marker must be separated from it by whitespace (PEP 508 url_req).
    if (!c.done) {
      c.expect(RULES.ws, 'whitespace after the URL');
      if (!c.done) {
        c.expect(/;/y, "';' before the marker");
        markerText = line.slice(c.pos);
      }
    }
  } else {
    const semi = line.indexOf(';', c.pos);
    let specText = line.slice(c.pos, semi < 0 ? undefined : semi).trim();
    if (specText.startsWith('(')) {
      if (!specText.endsWith(')')) throw fail("')' after the version specifier", c.pos);
      specText = specText.slice(1, -1);
    }
    try {
      req.specifiers = parseSpecifierSet(specText);
    } catch (e) {
      throw fail((e as Error).message, c.pos);
    }
    if (req.specifiers.length === 0 && specText.trim() !== '') throw fail('a version specifier', c.pos);
    req.specifier = req.specifiers.map((s) => `${s.op}${s.version}${s.wildcard ? '.*' : ''}`).join(',');
    if (semi >= 0) markerText = line.slice(semi + 1);
  }
  if (markerText !== undefined) {
    const m = new Cursor(markerText, (msg, pos) => fail(msg, line.length - markerText.length + pos));
    req.markerTree = parseOr(m);
    if (!m.done) throw m.fail('end of marker or a boolean operator', m.pos);
    req.marker = markerText.trim();
  }
  return req;
}
