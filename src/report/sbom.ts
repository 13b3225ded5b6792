import { formatBytes } from '../util/format.js';
import { loadBundle } from '../bundle/load.js';
import { readShippedSbom } from './load.js';
import { componentsOf } from './components.js';
import { type LicenseSummary, licenseSummary } from '../sbom/licenses.js';
import { spdxJson } from '../sbom/spdx.js';

export type SbomFormat = 'cyclonedx' | 'spdx' | 'licenses';

export interface SbomResult {
  bundle: string;
  name: string;
  version: string;
  format: SbomFormat;
  /** cyclonedx: sbom.cdx.json byte for byte as shipped; spdx: the SPDX 2.3 JSON document; licenses: the summary as text. */
  text: string;
  /** licenses: the summary as data. */
  licenses?: LicenseSummary;
}

/**
 * The reviewer's views of a bundle's bill of materials: the CycloneDX SBOM as the bundle ships it, the same
 * content as SPDX 2.3 JSON, or a license summary (counts by license, components with none listed).
 */
export async function sbomView(o: { bundle: string; format: SbomFormat }): Promise<SbomResult> {
  const b = await loadBundle(o.bundle);
  const head = { bundle: b.location, name: b.index.name, version: b.index.version, format: o.format };
  switch (o.format) {
    case 'cyclonedx':
      return { ...head, text: (await readShippedSbom(b)).toString('utf8') };
    case 'spdx':
      return { ...head, text: spdxJson(b.index, b.indexSha256) };
    case 'licenses': {
      const comps = componentsOf(b.index);
      const s = licenseSummary(comps);
      return {
        ...head,
        text: licenseText(
          `${b.index.name} ${b.index.version}`,
          s,
          comps.reduce((n, c) => n + c.size, 0),
        ),
        licenses: s,
      };
    }
  }
}

export function licenseText(title: string, s: LicenseSummary, bytes: number): string {
  const out = [
    `${title}: licenses of ${s.total} components (${formatBytes(bytes)}): ${s.known} named, ${s.unknown.length} unknown; ${s.spdx} as SPDX expressions`,
  ];
  if (s.byLicense.length) {
    out.push('');
    const w = Math.max(7, ...s.byLicense.map((l) => l.license.length));
    out.push(`  ${'license'.padEnd(w)}  count  kinds`);
    for (const l of s.byLicense) {
      const kinds = Object.entries(l.kinds)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      out.push(
        `  ${l.license.padEnd(w)}  ${String(l.count).padStart(5)}  ${kinds}${l.listed ? '' : `  (not on the SPDX list; metadata: ${l.raw.join('; ')})`}`,
      );
    }
  }
  if (s.unknown.length) {
    out.push('', `unknown (${s.unknown.length}):`);
    const byKind = new Map<string, string[]>();
    for (const u of s.unknown) byKind.set(u.kind, [...(byKind.get(u.kind) ?? []), `${u.name} ${u.version}${u.note ? ` (${u.note})` : ''}`]);
    for (const [k, names] of byKind) out.push(`  ${k} (${names.length}): ${names.join(', ')}`);
  }
  return out.join('\n');
}
