import { type AuditFinding, type AuditResult, SEVERITY_ORDER, auditIndex, severityRank } from './audit.js';
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

export interface AuditBundleResult extends AuditResult {
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
  return severityRank(f.severity) >= severityRank(failOn);
}

/** Audits a bundle's debs, wheels and the npm packages of its runtime against OSV records, offline. */
export async function auditBundle(o: AuditOptions): Promise<AuditBundleResult> {
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
