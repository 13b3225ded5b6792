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
  if (/^LicenseRef-[A-Za-z0-9.-]+$/.test(text)) return { raw, spdx: text, listed: false, refs: [] };
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
    // After WITH comes an exception id (its own SPDX list): kept when it is id-shaped.
    if (tokens[i - 1] === 'WITH' && /^[A-Za-z0-9.+-]+$/.test(t)) return t;
    const id = fixupSpdxId(t) ?? (/^LicenseRef-[A-Za-z0-9.-]+$/.test(t) ? t : undefined);
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
}

export interface LicenseSummary {
  /** Components counted. */
  total: number;
  /** Components with a license in their metadata. */
  known: number;
  /** By SPDX expression, most common first. `listed`: every part is on the SPDX list. */
  byLicense: { license: string; count: number; listed: boolean; raw: string[]; kinds: Record<string, number> }[];
  /** Components whose metadata names no license. */
  unknown: { kind: string; name: string; version: string }[];
}

export function licenseSummary(items: readonly LicensedItem[]): LicenseSummary {
  const by = new Map<string, LicenseSummary['byLicense'][number]>();
  const unknown: LicenseSummary['unknown'] = [];
  for (const it of items) {
    if (!it.license?.trim()) {
      unknown.push({ kind: it.kind, name: it.name, version: it.version });
      continue;
    }
    const n = normalizeLicense(it.license);
    let e = by.get(n.spdx);
    if (!e) by.set(n.spdx, (e = { license: n.spdx, count: 0, listed: n.listed, raw: [], kinds: {} }));
    e.count++;
    e.kinds[it.kind] = (e.kinds[it.kind] ?? 0) + 1;
    if (!e.raw.includes(it.license)) e.raw.push(it.license);
  }
  const byLicense = [...by.values()].sort((a, b) => b.count - a.count || (a.license < b.license ? -1 : a.license > b.license ? 1 : 0));
  unknown.sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : a.kind + a.name > b.kind + b.name ? 1 : 0));
  return { total: items.length, known: items.length - unknown.length, byLicense, unknown };
}
