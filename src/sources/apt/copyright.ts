import { fixupSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';

/**
 * Debian's machine-readable copyright format 1.0 ("DEP-5",
 * https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/): which licence a package declares, read
 * from its `usr/share/doc/<package>/copyright`. Nothing is guessed: a file that does not say it is in this
 * format (its first paragraph's `Format:` names the spec) is not read as one, and a short name with no SPDX
 * equivalent stays as Debian wrote it.
 */
export interface Dep5 {
  /** The `License:` synopsis of the `Files: *` paragraph (else of the header paragraph), as written. */
  main?: string;
  /** Every licence synopsis of the file (header and Files paragraphs), as written, first seen first. */
  all: string[];
}

/** The `Format:` of a machine-readable file: the 1.0 spec, or the DEP-5 drafts it grew from. */
const FORMAT = /copyright-format\/1\.0|\/dep5(\.mdwn|\b)/i;

/** deb822 paragraphs (Debian Policy §5.1): `Field: value`, continuation lines start with a space or tab. */
function paragraphs(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  let last: string | undefined;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (/^\s*$/.test(line)) {
      cur = undefined;
      last = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    if (/^[ \t]/.test(line)) {
      if (cur && last) cur.set(last, `${cur.get(last)}\n${line.trim()}`);
      continue;
    }
    const m = /^([!-9;-~][!-9;-~]*):(.*)$/.exec(line);
    if (!m) continue;
    if (!cur) out.push((cur = new Map<string, string>()));
    last = m[1]!.toLowerCase();
    cur.set(last, m[2]!.trim());
  }
  return out;
}

/** The machine-readable content of a copyright file; undefined when the file is not in that format. */
export function parseDep5(text: string): Dep5 | undefined {
  const ps = paragraphs(text);
  const header = ps[0];
  if (!header || !FORMAT.test(header.get('format') ?? '')) return undefined;
  const synopsis = (p: Map<string, string>): string | undefined => p.get('license')?.split('\n')[0]?.trim() || undefined;
  const all: string[] = [];
  const add = (s: string | undefined): void => {
    if (s && !all.includes(s)) all.push(s);
  };
  add(synopsis(header));
  let star: string | undefined;
  for (const p of ps.slice(1)) {
    const files = p.get('files');
    if (files === undefined) continue;
    const lic = synopsis(p);
    add(lic);
    if (star === undefined && files.split(/\s+/).includes('*')) star = lic;
  }
  const main = star ?? synopsis(header);
  return { ...(main ? { main } : {}), all };
}

/**
 * Version numbers as SPDX writes them: DEP-5 short names carry the licence's own ("GPL-2", "LGPL-2.1",
 * "Apache-2.0"), SPDX ids a "major.minor" one for these families.
 */
function dotted(v: string): string {
  return v.includes('.') ? v : `${v}.0`;
}

/** GNU licences: `-only` and `-or-later` ids (SPDX 3.x list), from DEP-5's version and trailing "+". */
const GNU = /^(A?GPL|LGPL|GFDL(-NIV)?)-(\d+(?:\.\d+)?)$/i;

/**
 * One DEP-5 short name (§7.1 "Short name": the table of standard short names, with "+" for "or any later
 * version") as an SPDX license id; undefined where there is none (public-domain, an unversioned "GPL" or
 * "BSD", a name of the packager's own).
 */
export function dep5Id(short: string): string | undefined {
  const plus = short.endsWith('+');
  const name = plus ? short.slice(0, -1) : short;
  const gnu = GNU.exec(name);
  if (gnu) {
    const family = gnu[1]!.toUpperCase().replace('-NIV', '');
    const ver = dotted(gnu[3]!);
    const id = `${family}-${ver}${gnu[2] ? '-no-invariants' : ''}-${plus ? 'or-later' : 'only'}`;
    return fixupSpdxId(id);
  }
  if (plus) return undefined;
  const lower = name.toLowerCase();
  // §7.1's names whose SPDX id is another word.
  if (lower === 'expat') return 'MIT';
  if (lower === 'perl') return '(Artistic-1.0-Perl OR GPL-1.0-or-later)';
  if (lower === 'cc0') return 'CC0-1.0';
  let m = /^zope-(\d+(?:\.\d+)?)$/.exec(lower);
  if (m) return fixupSpdxId(`ZPL-${dotted(m[1]!)}`);
  m = /^bsd-([234])-clause$/.exec(lower);
  if (m) return `BSD-${m[1]}-Clause`;
  m = /^(apache|artistic|mpl|python|efl|qpl|cpl|cddl|cc-by(?:-sa|-nd|-nc|-nc-sa|-nc-nd)?)-(\d+)$/.exec(lower);
  if (m) return fixupSpdxId(`${m[1]}-${dotted(m[2]!)}`);
  return fixupSpdxId(name);
}

/** DEP-5 exception names after "with … exception" that SPDX lists (https://spdx.org/licenses/exceptions-index.html). */
const EXCEPTIONS: Record<string, string> = {
  autoconf: 'Autoconf-exception-2.0',
  'autoconf-3.0': 'Autoconf-exception-3.0',
  bison: 'Bison-exception-2.2',
  classpath: 'Classpath-exception-2.0',
  font: 'Font-exception-2.0',
  'gcc-3.1': 'GCC-exception-3.1',
  libtool: 'Libtool-exception',
  llvm: 'LLVM-exception',
  'linux-syscall-note': 'Linux-syscall-note',
};

/**
 * A DEP-5 licence synopsis (§7.2: short names joined by "or"/"and", "with X exception", and a comma to group:
 * "A or B, and C" is "(A or B) and C") as a valid SPDX license expression; undefined when any part has no
 * SPDX equivalent (then the synopsis is kept as Debian wrote it, as a name).
 */
export function dep5ToSpdx(synopsis: string): string | undefined {
  const groups = synopsis.split(/,\s*(?=(?:and|or)\s)/i);
  const out: string[] = [];
  for (const [i, g] of groups.entries()) {
    let text = g.trim();
    let op = '';
    if (i > 0) {
      op = /^(and|or)\s/i.exec(text)![1]!.toUpperCase();
      text = text.slice(op.length).trim();
    }
    const expr = simple(text);
    if (!expr) return undefined;
    out.push(...(op ? [op] : []), groups.length > 1 && /\s(AND|OR)\s/.test(expr) ? `(${expr})` : expr);
  }
  return out.join(' ') || undefined;
}

/** "A or B and C with X exception", no commas ("and" binds tighter than "or", as in SPDX). */
function simple(text: string): string | undefined {
  const tokens = text.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; ;) {
    const id = tokens[i] === undefined ? undefined : dep5Id(tokens[i]!);
    if (!id) return undefined;
    i++;
    let term = id;
    if (tokens[i]?.toLowerCase() === 'with') {
      // "with <name words> exception"; WITH takes one license id, not a group.
      const end = tokens.findIndex((x, k) => k > i && x.toLowerCase() === 'exception');
      const exc =
        end > i + 1
          ? EXCEPTIONS[
              tokens
                .slice(i + 1, end)
                .join('-')
                .toLowerCase()
            ]
          : undefined;
      if (!exc || id.includes(' ')) return undefined;
      term = `${id} WITH ${exc}`;
      i = end + 1;
    }
    out.push(term);
    if (i >= tokens.length) return out.join(' ');
    const op = tokens[i++]!.toLowerCase();
    if (op !== 'and' && op !== 'or') return undefined;
    out.push(op.toUpperCase());
  }
}
