import { fixupSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';

/**
 * Licenses as upstream metadata states them (a wheel's License-Expression or OSI classifier, a model card's
 * `license:`, the manifest's `license` of a file), turned into SPDX license expressions, and a summary by
 * license for the security reviewer. Debian's Packages indexes carry no license, so apt packages are unknown
 * here (their copyright files are inside the .debs).
 */
export interface NormalizedLicense {
  /** As the metadata wrote it. */
  raw: string;
  /** A valid SPDX license expression: list ids, AND/OR/WITH, parentheses and LicenseRef- for anything else. */
  spdx: string;
  /** false when some part is not on the SPDX license list (it became a LicenseRef-). */
  listed: boolean;
  /** The LicenseRef- ids this expression introduced, with the text each stands for. */
  refs: { id: string; text: string }[];
}

const OPERATORS = new Set(['AND', 'OR', 'WITH']);

/** SPDX license exception ids (https://spdx.org/licenses/exceptions-index.html) seen in packaging metadata. */
const EXCEPTIONS = new Map(
  [
    '389-exception',
    'Autoconf-exception-2.0',
    'Autoconf-exception-3.0',
    'Bison-exception-2.2',
    'Bootloader-exception',
    'Classpath-exception-2.0',
    'CLISP-exception-2.0',
    'eCos-exception-2.0',
    'Fawkes-Runtime-exception',
    'FLTK-exception',
    'Font-exception-2.0',
    'freertos-exception-2.0',
    'GCC-exception-2.0',
    'GCC-exception-3.1',
    'gnu-javamail-exception',
    'GPL-3.0-linking-exception',
    'GPL-3.0-linking-source-exception',
    'GPL-CC-1.0',
    'i2p-gpl-java-exception',
    'LGPL-3.0-linking-exception',
    'Libtool-exception',
    'Linux-syscall-note',
    'LLVM-exception',
    'LZMA-exception',
    'mif-exception',
    'OCaml-LGPL-linking-exception',
    'OpenJDK-assembly-exception-1.0',
    'openvpn-openssl-exception',
    'PS-or-PDF-font-exception-20170817',
    'Qt-GPL-exception-1.0',
    'Qt-LGPL-exception-1.1',
    'Qwt-exception-1.0',
    'Swift-exception',
    'u-boot-exception-2.0',
    'Universal-FOSS-exception-1.0',
    'WxWindows-exception-3.1',
  ].map((id) => [id.toLowerCase(), id]),
);

/** `LicenseRef-` plus letters, digits, `.` and `-` only (SPDX 2.3 §10.1). */
export function licenseRef(text: string): string {
  const idstring = text
    .trim()
    .replace(/[^A-Za-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `LicenseRef-${idstring || 'unnamed'}`;
}

/** One license string from metadata as an SPDX license expression. */
export function normalizeLicense(raw: string): NormalizedLicense {
  const text = raw.trim();
  const whole = fixupSpdxId(text);
  if (whole) return { raw, spdx: whole, listed: true, refs: [] };
  // A LicenseRef the metadata already wrote still needs its text in the document that uses it.
  if (/^LicenseRef-[A-Za-z0-9.-]+$/.test(text)) return { raw, spdx: text, listed: false, refs: [{ id: text, text }] };
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  const isExpression = tokens.some((t) => OPERATORS.has(t)) && balanced(tokens) && wellFormed(tokens);
  if (!isExpression) {
    // A name such as "Apache Software" (an OSI classifier) or "llama2": not on the list.
    const id = licenseRef(text);
    return { raw, spdx: id, listed: false, refs: [{ id, text }] };
  }
  const refs: NormalizedLicense['refs'] = [];
  let listed = true;
  const out = tokens.map((t, i) => {
    if (t === '(' || t === ')' || OPERATORS.has(t)) return t;
    // After WITH comes an exception id from SPDX's exception list; SPDX 2.3 has no LicenseRef for an unknown
    // one, so that becomes part of a LicenseRef of its own.
    if (tokens[i - 1] === 'WITH') {
      const known = EXCEPTIONS.get(t.toLowerCase());
      if (known) return known;
      listed = false;
      const ref = licenseRef(`exception ${t}`);
      if (!refs.some((r) => r.id === ref)) refs.push({ id: ref, text: `exception: ${t}` });
      return ref;
    }
    if (/^LicenseRef-[A-Za-z0-9.-]+$/.test(t)) {
      listed = false;
      if (!refs.some((r) => r.id === t)) refs.push({ id: t, text: t });
      return t;
    }
    const id = fixupSpdxId(t);
    if (id) return id;
    listed = false;
    const ref = licenseRef(t);
    if (!refs.some((r) => r.id === ref)) refs.push({ id: ref, text: t });
    return ref;
  });
  return { raw, spdx: out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')'), listed, refs };
}

function balanced(tokens: readonly string[]): boolean {
  let depth = 0;
  for (const t of tokens) {
    if (t === '(') depth++;
    else if (t === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/** Operands and operators alternate (parentheses aside): "MIT OR" or "MIT Apache-2.0" is not an expression. */
function wellFormed(tokens: readonly string[]): boolean {
  let wantOperand = true;
  for (const t of tokens) {
    if (t === '(' || t === ')') continue;
    const op = OPERATORS.has(t);
    if (op === wantOperand) return false;
    wantOperand = op;
  }
  return !wantOperand;
}

/** What the summary counts: one reviewer-level component (a package, a model, a file). */
export interface LicensedItem {
  kind: string;
  name: string;
  version: string;
  license?: string | undefined;
  /** Why there is no licence, or where it is instead (apt: a copyright file that is not machine-readable). */
  licenseNote?: string | undefined;
}

export interface LicenseSummary {
  /** Components counted. */
  total: number;
  /** Components with a license in their metadata. */
  known: number;
  /** Of those, the ones whose license is a valid SPDX expression (every part on the SPDX lists). */
  spdx: number;
  /** By SPDX expression, most common first. `listed`: every part is on the SPDX list. */
  byLicense: { license: string; count: number; listed: boolean; raw: string[]; kinds: Record<string, number> }[];
  /** Components whose metadata names no license, with what is known instead. */
  unknown: { kind: string; name: string; version: string; note?: string }[];
}

export function licenseSummary(items: readonly LicensedItem[]): LicenseSummary {
  const by = new Map<string, LicenseSummary['byLicense'][number]>();
  const unknown: LicenseSummary['unknown'] = [];
  let spdx = 0;
  for (const it of items) {
    if (!it.license?.trim()) {
      unknown.push({ kind: it.kind, name: it.name, version: it.version, ...(it.licenseNote ? { note: it.licenseNote } : {}) });
      continue;
    }
    const n = normalizeLicense(it.license);
    if (n.listed) spdx++;
    let e = by.get(n.spdx);
    if (!e) by.set(n.spdx, (e = { license: n.spdx, count: 0, listed: n.listed, raw: [], kinds: {} }));
    e.count++;
    e.kinds[it.kind] = (e.kinds[it.kind] ?? 0) + 1;
    if (!e.raw.includes(it.license)) e.raw.push(it.license);
  }
  const byLicense = [...by.values()].sort((a, b) => b.count - a.count || (a.license < b.license ? -1 : a.license > b.license ? 1 : 0));
  unknown.sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : a.kind + a.name > b.kind + b.name ? 1 : 0));
  return { total: items.length, known: items.length - unknown.length, spdx, byLicense, unknown };
}
