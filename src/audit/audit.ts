import type { BundleIndex } from '../bundle/index.js';
import type { Reporter } from '../util/events.js';
import { type CvssScore, type Severity, cvssScore } from './cvss.js';
import { type Query, type Unchecked, affects, ecosystemCovers, lookupKey, queriesOf, runtimeQueries } from './match.js';
import { type OsvAffected, type OsvRecord, readOsv } from './osv.js';

export type { Severity } from './cvss.js';

/** Severities from least to most severe; "unknown" is a record that rates itself in no way we read. */
export const SEVERITY_ORDER = ['none', 'low', 'medium', 'high', 'critical'] as const;
export type FindingSeverity = Severity | 'unknown';

/** For --fail-on: a finding of unknown severity counts as medium (never ignored, never failing the default gate alone). */
export function severityRank(s: FindingSeverity): number {
  return SEVERITY_ORDER.indexOf(s === 'unknown' ? 'medium' : s);
}

/** One vulnerability of one bundled artifact. `vault-bundle report --audit` reads these. */
export interface AuditFinding {
  /** The OSV record's id (DEBIAN-CVE-…, GHSA-…, PYSEC-…). */
  id: string;
  /** Other ids of the same vulnerability (aliases, upstream, the CVE a distro id embeds). */
  aliases: string[];
  severity: FindingSeverity;
  /** Where the severity comes from: a CVSS vector, or the rating of the database or the distribution. */
  severitySource: string;
  /** CVSS score, when the record has a vector (the newest CVSS version's; the highest among several of it). */
  score?: number;
  vector?: string;
  /** The bundled package (binary package for apt) and its version. */
  package: string;
  version: string;
  /** The package and version the record names, when it differs (Debian/Ubuntu source packages). */
  source?: { name: string; version: string };
  /** The lowest fixed version above the bundled one, when the record names one. */
  fixed?: string;
  summary?: string;
  ecosystem: string;
  /** The artifact id in bundle.json (`runtime:<path>#npm:<name>@<version>` for a package inside the runtime). */
  artifact: string;
  kind: string;
  /** How the version was found affected: inside a range, or listed in `versions`. */
  matchedBy: 'range' | 'versions';
}

export interface AuditSummary {
  /** Records read, withdrawn records skipped. */
  records: number;
  withdrawn: number;
  /** Records per ecosystem in the OSV data (an affected package's ecosystem; a record counts once per ecosystem). */
  ecosystems: Record<string, number>;
  /** Artifacts looked up, per ecosystem. */
  checked: Record<string, number>;
  /** Artifacts the audit could not look up, with the reason (models, files, apt repositories outside Debian/Ubuntu). */
  unchecked: Unchecked[];
  /** Ecosystems of bundled artifacts for which the OSV data holds no record at all: those artifacts were not really checked. */
  uncovered: string[];
  /** Findings per severity. */
  bySeverity: Record<FindingSeverity, number>;
}

export interface AuditResult {
  findings: AuditFinding[];
  summary: AuditSummary;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** A database's or distribution's own word for a severity, normalised. */
function word(v: string | undefined): Severity | undefined {
  switch (v?.toLowerCase()) {
    case 'critical':
      return 'critical';
    case 'high':
    case 'important':
      return 'high';
    case 'moderate':
    case 'medium':
      return 'medium';
    case 'low':
    // Debian "unimportant" and Ubuntu "negligible": judged of no real impact there, still listed.
    case 'unimportant':
    case 'negligible':
      return 'low';
    case 'none':
      return 'none';
    default:
      return undefined; // "not yet assigned", "end-of-life", "unknown", …
  }
}

function bestCvss(entries: readonly { type: string; score: string }[] | undefined): CvssScore | undefined {
  let best: CvssScore | undefined;
  const rank = (c: CvssScore) => (c.version === '4.0' ? 2 : c.version === '2.0' ? 0 : 1);
  for (const e of entries ?? []) {
    if (!/^CVSS_V[234]$/i.test(e.type)) continue;
    const c = cvssScore(e.score);
    if (!c) continue;
    // The newest version a record carries (v4, then v3.x, then v2), as GHSA and NVD show it; among equals the highest score.
    if (!best || rank(c) > rank(best) || (rank(c) === rank(best) && c.score > best.score)) best = c;
  }
  return best;
}

/**
 * The severity of a record for one affected package. The rating of whoever ships the package comes first:
 * the affected entry's own (`ecosystem_specific`/`database_specific` severity, Debian's urgency, Ubuntu's
 * priority in `severity[]`), then the record's database (GHSA's `database_specific.severity`), then the
 * CVSS vectors (the affected entry's, then the record's). The score is always the CVSS one.
 */
export function severityOf(record: OsvRecord, entry: OsvAffected): { severity: FindingSeverity; source: string; cvss?: CvssScore } {
  const cvss = bestCvss(entry.severity) ?? bestCvss(record.severity);
  const es = entry.ecosystem_specific ?? {};
  const ds = entry.database_specific ?? {};
  const vendorEntry = [...(entry.severity ?? []), ...(record.severity ?? [])].find((s) => /^ubuntu$/i.test(s.type));
  const candidates: [string, unknown][] = [
    ['ecosystem_specific.severity', es.severity],
    ['database_specific.severity', ds.severity],
    ['Debian urgency', es.urgency],
    ['Ubuntu priority', vendorEntry?.score],
    ['database_specific.severity', record.database_specific?.severity],
  ];
  for (const [source, v] of candidates) {
    const s = word(str(v));
    if (s) return { severity: s, source, ...(cvss ? { cvss } : {}) };
  }
  if (cvss) return { severity: cvss.severity, source: `CVSS ${cvss.version}`, cvss };
  return { severity: 'unknown', source: 'none' };
}

function aliasesOf(r: OsvRecord): string[] {
  const out = new Set<string>([...(r.aliases ?? []), ...(r.upstream ?? [])]);
  const embedded = /(?:^|-)(CVE-\d{4}-\d{4,})$/.exec(r.id)?.[1];
  if (embedded && embedded !== r.id) out.add(embedded);
  out.delete(r.id);
  return [...out].sort();
}

function summaryOf(r: OsvRecord): string | undefined {
  const s =
    str(r.summary) ??
    str(r.details)
      ?.split(/\n\s*\n/)[0]
      ?.replace(/\s+/g, ' ');
  return s && s.length > 300 ? `${s.slice(0, 297)}…` : s;
}

export interface AuditIndexOptions {
  /** Folders, zips or files of OSV records. */
  osv: readonly string[];
  report?: Reporter;
}

/**
 * Matches a bundle's artifacts against OSV records read offline. Records are streamed: only the affected
 * entries that name a bundled package are evaluated, so a whole ecosystem export never sits in memory.
 */
export async function auditIndex(index: Pick<BundleIndex, 'artifacts' | 'target' | 'runtime'>, o: AuditIndexOptions): Promise<AuditResult> {
  const fromArtifacts = queriesOf(index.artifacts, index.target);
  const fromRuntime = runtimeQueries(index.runtime);
  const queries = [...fromArtifacts.queries, ...fromRuntime.queries];
  const unchecked = [...fromArtifacts.unchecked, ...fromRuntime.unchecked];
  const byKey = new Map<string, Query[]>();
  for (const q of queries) {
    const k = lookupKey(q.base, q.name);
    byKey.set(k, [...(byKey.get(k) ?? []), q]);
  }
  const findings = new Map<string, AuditFinding>();
  const ecosystems: Record<string, number> = {};
  let records = 0;
  let withdrawn = 0;
  for (const path of o.osv) {
    for await (const { record } of readOsv(path)) {
      records++;
      if (record.withdrawn) {
        withdrawn++;
        continue;
      }
      const seen = new Set<string>();
      for (const entry of record.affected ?? []) {
        const pkg = entry.package;
        if (!pkg) continue;
        if (!seen.has(pkg.ecosystem)) {
          seen.add(pkg.ecosystem);
          ecosystems[pkg.ecosystem] = (ecosystems[pkg.ecosystem] ?? 0) + 1;
        }
        const base = pkg.ecosystem.split(':')[0]!;
        for (const q of byKey.get(lookupKey(base, pkg.name)) ?? []) {
          if (!ecosystemCovers(pkg.ecosystem, q)) continue;
          const hit = affects(entry, q.version, q.order);
          if (!hit) continue;
          const key = `${record.id}\0${q.artifact.id}`;
          const prev = findings.get(key);
          const sev = severityOf(record, entry);
          const a = q.artifact;
          const f: AuditFinding = {
            id: record.id,
            aliases: aliasesOf(record),
            severity: sev.severity,
            severitySource: sev.source,
            ...(sev.cvss ? { score: sev.cvss.score, vector: sev.cvss.vector } : {}),
            package: a.name,
            version: a.version,
            ...(q.name !== a.name || q.version !== a.version ? { source: { name: q.name, version: q.version } } : {}),
            ...(hit.fixed !== undefined ? { fixed: hit.fixed } : {}),
            ...(summaryOf(record) ? { summary: summaryOf(record)! } : {}),
            ecosystem: pkg.ecosystem,
            artifact: a.id,
            kind: a.kind,
            matchedBy: hit.by,
          };
          // A record listing the package twice (a range and a bare ecosystem entry): keep the more severe reading.
          if (!prev || severityRank(f.severity) > severityRank(prev.severity)) findings.set(key, f);
        }
      }
    }
  }
  const list = mergeAliases([...findings.values()]).sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (b.score ?? -1) - (a.score ?? -1) ||
      cmp(a.package, b.package) ||
      cmp(a.id, b.id) ||
      cmp(a.artifact, b.artifact),
  );
  const checked: Record<string, number> = {};
  for (const q of queries) checked[q.ecosystem] = (checked[q.ecosystem] ?? 0) + 1;
  const uncovered = Object.keys(checked)
    .filter((eco) => !Object.keys(ecosystems).some((e) => e === eco || e === eco.split(':')[0]))
    .sort();
  const bySeverity: Record<FindingSeverity, number> = { critical: 0, high: 0, medium: 0, low: 0, none: 0, unknown: 0 };
  for (const f of list) bySeverity[f.severity]++;
  return { findings: list, summary: { records, withdrawn, ecosystems, checked, unchecked, uncovered, bySeverity } };
}

/**
 * One finding per vulnerability of an artifact. Databases publish the same vulnerability under several ids
 * that name each other or a common CVE (GHSA and PYSEC, DSA and DEBIAN-CVE): those findings are one, read at
 * its most severe, with every other id among its aliases.
 */
function mergeAliases(findings: readonly AuditFinding[]): AuditFinding[] {
  const out: AuditFinding[] = [];
  const byArtifact = new Map<string, AuditFinding[]>();
  for (const f of findings) byArtifact.set(f.artifact, [...(byArtifact.get(f.artifact) ?? []), f]);
  for (const group of byArtifact.values()) {
    // Union-find over the ids each finding is known by.
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
      parent.set(x, r);
      return r;
    };
    for (const f of group) for (const n of f.aliases) parent.set(find(n), find(f.id));
    const merged = new Map<string, AuditFinding[]>();
    for (const f of group) {
      const root = find(f.id);
      merged.set(root, [...(merged.get(root) ?? []), f]);
    }
    for (const same of merged.values()) {
      const kept = same.reduce((a, b) => {
        const d = severityRank(b.severity) - severityRank(a.severity) || (b.score ?? -1) - (a.score ?? -1) || cmp(a.id, b.id);
        return d > 0 ? b : a;
      });
      const names = new Set(same.flatMap((f) => [f.id, ...f.aliases]));
      names.delete(kept.id);
      out.push(same.length === 1 ? kept : { ...kept, aliases: [...names].sort() });
    }
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
