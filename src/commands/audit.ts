import { type AuditFinding, type AuditResult, type FindingSeverity, SEVERITY_ORDER, auditIndex, severityRank } from '../audit/audit.js';
import type { BundleIndex } from '../bundle/index.js';
import { loadIndex } from '../bundle/load.js';
import type { Reporter } from '../util/events.js';

/** --fail-on: the least severity that fails the audit; `any` fails on every finding, `never` on none. */
export const FAIL_ON = ['any', ...SEVERITY_ORDER.slice(1), 'never'] as const;
export type FailOn = (typeof FAIL_ON)[number];

export interface AuditOptions {
  /** A bundle folder, tar or split folder, or a bundle.json. */
  bundle: string;
  /** OSV data: folders of .json records, ecosystem all.zip files, single record files. */
  osv: readonly string[];
  failOn: FailOn;
  /** Accept OSV data with no record at all for an ecosystem of the bundle (otherwise the audit is incomplete). */
  allowUncovered?: boolean;
  report?: Reporter;
}

/** Exit code of an audit whose OSV data covers none of some ecosystem of the bundle: distinct from 0 and 1. */
export const EXIT_UNCOVERED = 7;

export interface AuditCommandResult extends AuditResult {
  bundle: string;
  name: string;
  version: string;
  target: BundleIndex['target'];
  osv: string[];
  failOn: FailOn;
  /** Findings at or above --fail-on: the command exits 1 when there are any. */
  failing: number;
  /** Why the index read is not vouched for (a bundle.json alone, no SHA256SUMS beside it). */
  unverified?: string;
  /**
   * Some ecosystem of the bundle has no record at all in the OSV data (summary.uncovered) and --allow-uncovered
   * was not given: its packages were not checked, so "0 findings" must not read as clean (exit 7).
   */
  incomplete: boolean;
}

/** Whether a finding fails an audit run with this --fail-on. */
export function fails(f: Pick<AuditFinding, 'severity'>, failOn: FailOn): boolean {
  if (failOn === 'never') return false;
  if (failOn === 'any') return true;
  return severityRank(f.severity) >= severityRank(failOn as FindingSeverity);
}

/** Audits a bundle's debs, wheels and the npm packages of its runtime against OSV records, offline. */
export async function auditCommand(o: AuditOptions): Promise<AuditCommandResult> {
  const { location: bundle, index, unverified } = await loadIndex(o.bundle);
  const res = await auditIndex(index, { osv: o.osv, ...(o.report ? { report: o.report } : {}) });
  return {
    bundle,
    name: index.name,
    version: index.version,
    target: index.target,
    osv: [...o.osv],
    failOn: o.failOn,
    failing: res.findings.filter((f) => fails(f, o.failOn)).length,
    incomplete: res.summary.uncovered.length > 0 && !o.allowUncovered,
    ...(unverified ? { unverified } : {}),
    ...res,
  };
}

/** The findings as lines for a terminal: most severe first, then what was not checked. */
export function auditText(r: AuditCommandResult): string {
  const lines: string[] = [];
  const s = r.summary;
  if (r.unverified) lines.push(`warning: ${r.unverified}`);
  const checkedTotal = Object.values(s.checked).reduce((a, b) => a + b, 0);
  const eco = Object.entries(s.checked).map(([e, n]) => `${n} ${e}`).join(', ');
  lines.push(
    `audited ${r.name} ${r.version}: ${checkedTotal} package(s) (${eco || 'none'}) against ${s.records} OSV record(s)${s.withdrawn ? ` (${s.withdrawn} withdrawn, skipped)` : ''}`,
  );
  if (r.findings.length) {
    const w = {
      sev: Math.max(...r.findings.map((f) => f.severity.length)),
      id: Math.max(...r.findings.map((f) => f.id.length)),
      pkg: Math.max(...r.findings.map((f) => `${f.package} ${f.version}`.length)),
    };
    lines.push('');
    for (const f of r.findings) {
      const cve = f.aliases.find((a) => a.startsWith('CVE-'));
      lines.push(
        `${f.severity.toUpperCase().padEnd(w.sev)}  ${f.id.padEnd(w.id)}  ${`${f.package} ${f.version}`.padEnd(w.pkg)}  ` +
          `${f.fixed ? `fixed in ${f.fixed}` : 'no fix'}${f.score !== undefined ? `  CVSS ${f.score}` : ''}${cve && cve !== f.id ? `  ${cve}` : ''}` +
          `${f.summary ? `  ${f.summary.length > 100 ? `${f.summary.slice(0, 99)}…` : f.summary}` : ''}`,
      );
    }
  }
  const counts = (Object.entries(s.bySeverity) as [string, number][]).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  lines.push('', `${r.findings.length} finding(s)${counts.length ? ` (${counts.join(', ')})` : ''}; ${r.failing} at or above --fail-on ${r.failOn}`);
  for (const e of s.uncovered) {
    lines.push(
      `${r.incomplete ? 'INCOMPLETE' : 'warning'}: the OSV data has no ${e} record: its ${s.checked[e]} package(s) were not really checked` +
        `${r.incomplete ? ` (exit ${EXIT_UNCOVERED}; add the ${e} export with --osv, or accept it with --allow-uncovered)` : ' (--allow-uncovered)'}`,
    );
  }
  if (s.unchecked.length) lines.push(`not checked: ${s.unchecked.length} artifact(s) outside OSV's ecosystems (models, files, other apt repositories; --json lists them)`);
  return lines.join('\n');
}
