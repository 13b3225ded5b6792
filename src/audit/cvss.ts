import cvss from 'ae-cvss-calculator';

/**
 * CVSS base scores from vector strings, as OSV records carry them in `severity[]`, computed by one library for
 * every version: ae-cvss-calculator (v2, v3.0, v3.1 and v4.0; v4 from FIRST's macro-vector table, rounded as
 * FIRST's reference calculator does). The library reads a missing metric as "X" and scores it 0, so a vector
 * is accepted only when every base metric of its version is present with a defined value.
 *
 * The package is CommonJS: its classes are reached through the default export, which works both when Node runs
 * the sources (ESM importing CJS: only `default` is guaranteed) and in the packed CLI.
 */
const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = cvss;

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

/** Each version's base metrics and their allowed values (v2 guide §2.1, v3.1 §2, v4.0 §2). */
const BASE: Record<CvssScore['version'], Record<string, string[]>> = {
  '2.0': { AV: ['L', 'A', 'N'], AC: ['H', 'M', 'L'], Au: ['M', 'S', 'N'], C: ['N', 'P', 'C'], I: ['N', 'P', 'C'], A: ['N', 'P', 'C'] },
  '3.0': {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'R'],
    S: ['U', 'C'],
    C: ['H', 'L', 'N'],
    I: ['H', 'L', 'N'],
    A: ['H', 'L', 'N'],
  },
  '3.1': {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'R'],
    S: ['U', 'C'],
    C: ['H', 'L', 'N'],
    I: ['H', 'L', 'N'],
    A: ['H', 'L', 'N'],
  },
  '4.0': {
    AV: ['N', 'A', 'L', 'P'],
    AC: ['L', 'H'],
    AT: ['N', 'P'],
    PR: ['N', 'L', 'H'],
    UI: ['N', 'P', 'A'],
    VC: ['H', 'L', 'N'],
    VI: ['H', 'L', 'N'],
    VA: ['H', 'L', 'N'],
    SC: ['H', 'L', 'N'],
    SI: ['H', 'L', 'N'],
    SA: ['H', 'L', 'N'],
  },
};

const CALCULATOR = { '2.0': Cvss2, '3.0': Cvss3P0, '3.1': Cvss3P1, '4.0': Cvss4P0 } as const;

function metrics(parts: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of parts) {
    const i = p.indexOf(':');
    if (i > 0) m.set(p.slice(0, i), p.slice(i + 1));
  }
  return m;
}

/** The version a vector claims and its canonical text: v2 vectors carry no prefix, some writers add "(…)" or "CVSS:2.0/". */
function versionOf(v: string): { version: CvssScore['version']; text: string } | undefined {
  const head = v.split('/')[0];
  if (head === 'CVSS:3.1') return { version: '3.1', text: v };
  if (head === 'CVSS:3.0') return { version: '3.0', text: v };
  if (head === 'CVSS:4.0') return { version: '4.0', text: v };
  const bare = v.replace(/^\(|\)$/g, '').replace(/^CVSS:2\.0\//, '');
  return metrics(bare.split('/')).has('Au') ? { version: '2.0', text: bare } : undefined;
}

/** Parses and scores one CVSS vector string; undefined for anything that is not a complete base vector. */
export function cvssScore(vector: string): CvssScore | undefined {
  const v = vector.trim();
  const known = versionOf(v);
  if (!known) return undefined;
  const m = metrics(known.text.split('/'));
  if (!Object.entries(BASE[known.version]).every(([k, allowed]) => allowed.includes(m.get(k) ?? ''))) return undefined;
  let score: number;
  try {
    const scores = new CALCULATOR[known.version](known.text).calculateScores();
    // v4 names its score by the metric groups given (CVSS-B, CVSS-BT with threat metrics): FIRST's calculator
    // shows that one. v2 and v3 keep the base score, as NVD lists it, whatever temporal metrics follow.
    score = (known.version === '4.0' ? scores.overall : scores.base) ?? Number.NaN;
  } catch {
    return undefined; // a metric the calculator does not know (a typo'd or future one)
  }
  if (!Number.isFinite(score)) return undefined;
  const severity = severityOfScore(score);
  // v2 has no "critical" rating: its top band is 7.0-10.0, "high".
  return { version: known.version, score, severity: known.version === '2.0' && severity === 'critical' ? 'high' : severity, vector: v };
}
