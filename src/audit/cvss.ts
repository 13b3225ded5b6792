import { Cvss4P0 } from 'ae-cvss-calculator';

/**
 * CVSS base scores from vector strings, as OSV records carry them in `severity[]`:
 * - v3.0 and v3.1: the base-score formula of FIRST's specification (v3.1 §7.1 and Appendix A, "Roundup");
 *   v3.0 differs only in its rounding (plain ceiling to one decimal).
 * - v2: the base equation of the v2 guide (§3.2.1).
 * - v4: FIRST scores v4 from a table of 270 macro-vectors and a distance within them; that is
 *   ae-cvss-calculator's Cvss4P0, which rounds as FIRST's reference calculator does (half up, after 1e-6).
 *   It reads a missing metric as "X" and scores 0, so the base metrics are checked here first.
 */

export type Severity = 'none' | 'low' | 'medium' | 'high' | 'critical';

export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  score: number;
  severity: Severity;
  vector: string;
}

/** Qualitative rating of a base score (v3.1 §5, v4 likewise; v2 scores use the same bands). */
export function severityOfScore(score: number): Severity {
  if (score <= 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

function metrics(parts: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of parts) {
    const i = p.indexOf(':');
    if (i > 0) m.set(p.slice(0, i), p.slice(i + 1));
  }
  return m;
}

/** v3.1 Appendix A: round up to one decimal, robust to floating-point error. */
function roundup31(x: number): number {
  const i = Math.round(x * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

function roundup30(x: number): number {
  return Math.ceil(x * 10) / 10;
}

const AV3: Record<string, number> = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC3: Record<string, number> = { L: 0.77, H: 0.44 };
const UI3: Record<string, number> = { N: 0.85, R: 0.62 };
const CIA3: Record<string, number> = { H: 0.56, L: 0.22, N: 0 };

interface V3Metrics {
  AV: string;
  AC: string;
  PR: string;
  UI: string;
  S: string;
  C: string;
  I: string;
  A: string;
}

function score3(m: V3Metrics, roundup: (x: number) => number): number | undefined {
  const changed = m.S === 'C';
  const pr = m.PR === 'N' ? 0.85 : m.PR === 'L' ? (changed ? 0.68 : 0.62) : m.PR === 'H' ? (changed ? 0.5 : 0.27) : undefined;
  const [av, ac, ui, c, i, a] = [AV3[m.AV], AC3[m.AC], UI3[m.UI], CIA3[m.C], CIA3[m.I], CIA3[m.A]];
  if (pr === undefined || av === undefined || ac === undefined || ui === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  if (m.S !== 'U' && m.S !== 'C') return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return roundup(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

const AV2: Record<string, number> = { L: 0.395, A: 0.646, N: 1 };
const AC2: Record<string, number> = { H: 0.35, M: 0.61, L: 0.71 };
const AU2: Record<string, number> = { M: 0.45, S: 0.56, N: 0.704 };
const CIA2: Record<string, number> = { N: 0, P: 0.275, C: 0.66 };

function score2(m: Map<string, string>): number | undefined {
  const [av, ac, au, c, i, a] = [AV2[m.get('AV') ?? ''], AC2[m.get('AC') ?? ''], AU2[m.get('Au') ?? ''], CIA2[m.get('C') ?? ''], CIA2[m.get('I') ?? ''], CIA2[m.get('A') ?? '']];
  if (av === undefined || ac === undefined || au === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  const impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a));
  const exploitability = 20 * av * ac * au;
  const f = impact === 0 ? 0 : 1.176;
  return Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * f * 10) / 10;
}

/** v4 base metrics and their values (v4.0 specification §2). */
const V4_BASE: Record<string, string> = { AV: 'NALP', AC: 'LH', AT: 'NP', PR: 'NLH', UI: 'NPA', VC: 'HLN', VI: 'HLN', VA: 'HLN', SC: 'HLN', SI: 'HLN', SA: 'HLN' };

/** Parses and scores one CVSS vector string; undefined for anything that is not a complete base vector. */
export function cvssScore(vector: string): CvssScore | undefined {
  const v = vector.trim();
  const parts = v.split('/');
  const head = parts[0] ?? '';
  if (head === 'CVSS:3.1' || head === 'CVSS:3.0') {
    const m = metrics(parts.slice(1));
    const s = score3(
      { AV: m.get('AV') ?? '', AC: m.get('AC') ?? '', PR: m.get('PR') ?? '', UI: m.get('UI') ?? '', S: m.get('S') ?? '', C: m.get('C') ?? '', I: m.get('I') ?? '', A: m.get('A') ?? '' },
      head === 'CVSS:3.1' ? roundup31 : roundup30,
    );
    if (s === undefined) return undefined;
    return { version: head === 'CVSS:3.1' ? '3.1' : '3.0', score: s, severity: severityOfScore(s), vector: v };
  }
  if (head === 'CVSS:4.0') {
    const m = metrics(parts.slice(1));
    if (!Object.entries(V4_BASE).every(([k, allowed]) => (m.get(k) ?? '').length === 1 && allowed.includes(m.get(k)!))) return undefined;
    let score: number;
    try {
      score = new Cvss4P0(v).calculateScores().overall;
    } catch {
      return undefined; // a metric the calculator does not know (a typo'd or future one)
    }
    return { version: '4.0', score, severity: severityOfScore(score), vector: v };
  }
  // v2 vectors carry no prefix ("AV:N/AC:L/Au:N/C:P/I:P/A:P"); some writers add "(AV:...)" or "CVSS:2.0/".
  const bare = v.replace(/^\(|\)$/g, '').replace(/^CVSS:2\.0\//, '');
  const m2 = metrics(bare.split('/'));
  if (m2.has('Au')) {
    const s = score2(m2);
    if (s === undefined) return undefined;
    // v2 has no "critical" rating: its top band is 7.0-10.0, "high".
    const sev = severityOfScore(s);
    return { version: '2.0', score: s, severity: sev === 'critical' ? 'high' : sev, vector: v };
  }
  return undefined;
}
