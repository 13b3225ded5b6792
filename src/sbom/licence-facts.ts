import * as CDX from '@cyclonedx/cyclonedx-library';
import { normalizeLicense } from './licenses.js';

const { Models: M } = CDX;

/**
 * A declared licence as CycloneDX writes it: a license id, a `license.expression` when it is a valid SPDX
 * expression (every id and exception on the SPDX lists), else a `license.name` with the text as declared.
 * Model cards write ids in lower case ("mit", "apache-2.0"); SPDX ids match case-insensitively.
 */
export function cdxLicense(text: string): CDX.Models.License {
  const id = CDX.SPDX.fixupSpdxId(text.trim());
  if (id) return new M.SpdxLicense(id);
  const n = normalizeLicense(text);
  if (n.listed) return new M.LicenseExpression(n.spdx);
  return new M.NamedLicense(text.trim());
}

/** Meta keys (set by the sources or by build, see sources/apt/licence.ts) → CycloneDX property names. */
const PROPS: [string, string][] = [
  ['licenseFrom', 'vault-bundle:license-from'],
  ['licenseAsWritten', 'vault-bundle:license-declared-as'],
  ['licensesAll', 'vault-bundle:licenses-all'],
  ['licenseFile', 'vault-bundle:license-file'],
  ['licenseFileSha256', 'vault-bundle:license-file-sha256'],
  ['licenseReadFrom', 'vault-bundle:license-read-from'],
  ['licenseNote', 'vault-bundle:license-note'],
  ['licenseLink', 'vault-bundle:license-link'],
];

/** Where a licence came from, for the SBOM's properties: the file it is in and that file's sha256. */
export function licenceProperties(meta: Readonly<Record<string, string>> | undefined): [string, string][] {
  return PROPS.filter(([k]) => meta?.[k]).map(([k, name]) => [name, meta![k]!]);
}

/** The same, as an SPDX 2.3 `licenseComments`; undefined when there is nothing to say. */
export function licenceComment(meta: Readonly<Record<string, string>> | undefined): string | undefined {
  if (!meta?.licenseFrom && !meta?.licenseNote) return undefined;
  const parts: string[] = [];
  if (meta.licenseFrom === 'dep5' && meta.licenseFile) parts.push(`declared in ${meta.licenseFile} (machine-readable, DEP-5)`);
  if (meta.licenseFrom === 'model-card') parts.push('declared in the model card (README.md front matter)');
  if (meta.licenseAsWritten && meta.licenseAsWritten !== meta.license) parts.push(`written as "${meta.licenseAsWritten}"`);
  if (meta.licensesAll) parts.push(`all licences of the file: ${meta.licensesAll}`);
  if (meta.licenseFileSha256) parts.push(`${meta.licenseFile ?? 'file'} sha256 ${meta.licenseFileSha256}`);
  if (meta.licenseReadFrom) parts.push(`read from ${meta.licenseReadFrom}`);
  if (meta.licenseNote) parts.push(meta.licenseNote);
  if (meta.licenseLink) parts.push(`see ${meta.licenseLink}`);
  return parts.join('; ');
}
