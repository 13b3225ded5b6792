import { readAudit } from './audit.js';
import { componentsOf } from './components.js';
import { diffBundles } from './diff.js';
import { renderReport } from './html.js';
import { loadBundle } from '../bundle/load.js';
import { type CheckSignature, type SignatureStatus, signatureStatus } from './signature.js';
import { licenseSummary } from '../sbom/licenses.js';

export interface ReportOptions {
  bundle: string;
  /** An older bundle: the report shows what changed since. */
  base?: string;
  /** Audit findings (vault-bundle audit --json). */
  audit?: string;
  /** Public key to check SHA256SUMS.asc with (through src/bundle/signature.ts once it exists). */
  key?: string;
  /** Tests: another signature check than the module's. */
  checkSignature?: CheckSignature;
  /** When the report is made (default: now). */
  now?: Date;
}

export interface ReportResult {
  bundle: string;
  name: string;
  version: string;
  html: string;
  components: number;
  signature: SignatureStatus;
  findings?: number;
  diff?: { added: number; removed: number; upgraded: number; downgraded: number; changed: number; unchanged: number; warnings: number; attention: number };
}

/** One self-contained HTML page about a bundle for the security reviewer. */
export async function reportPage(o: ReportOptions): Promise<ReportResult> {
  const b = await loadBundle(o.bundle, { sbom: true });
  const base = o.base ? await loadBundle(o.base) : undefined;
  const findings = o.audit ? await readAudit(o.audit) : undefined;
  const components = componentsOf(b.index);
  const signature = await signatureStatus(b, o.key, o.checkSignature);
  const diff = base
    ? diffBundles(
        { location: base.location, index: base.index, indexSha256: base.indexSha256 },
        { location: b.location, index: b.index, indexSha256: b.indexSha256 },
      )
    : undefined;
  const html = renderReport({
    location: b.location,
    form: b.reader.form,
    index: b.index,
    indexSha256: b.indexSha256,
    signature,
    components,
    licenses: licenseSummary(components),
    ...(findings ? { audit: { source: o.audit!, findings } } : {}),
    ...(diff ? { diff } : {}),
    generated: (o.now ?? new Date()).toISOString(),
  });
  return {
    bundle: b.location,
    name: b.index.name,
    version: b.index.version,
    html,
    components: components.length,
    signature,
    ...(findings ? { findings: findings.length } : {}),
    ...(diff
      ? {
          diff: {
            added: diff.added.length,
            removed: diff.removed.length,
            upgraded: diff.upgraded.length,
            downgraded: diff.downgraded.length,
            changed: diff.changed.length,
            unchanged: diff.unchanged,
            warnings: diff.warnings.length,
            attention: diff.attention.length,
          },
        }
      : {}),
  };
}
