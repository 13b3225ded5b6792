import { fixupSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';
import { parse } from 'yaml';
import type { BuildCtx } from '../source.js';
import { gitBlobSha1 } from './hash.js';

/**
 * A model's licence from its model card: the YAML front matter of README.md (`license:`, and for `other`
 * the card's `license_name` and `license_link`), as the Hub documents them
 * (https://huggingface.co/docs/hub/repositories-licenses). Hub ids that are SPDX ids in another case
 * ("apache-2.0", "mit", "cc-by-4.0") become the SPDX id; the Hub's own (llama2, gemma, openrail) stay names.
 * The manifest's `license:` wins over the card.
 */

/** Hub licence ids whose SPDX id is another word. */
const HUB_TO_SPDX: Record<string, string> = {
  'odc-by': 'ODC-By-1.0',
  odbl: 'ODbL-1.0',
  pddl: 'PDDL-1.0',
  'c-uda': 'C-UDA-1.0',
};

/** Meta keys of a model's files: `license` (SPDX id or name), `licenseAsWritten`, `licenseLink`, `licenseFrom`. */
export function cardLicence(readme: string): Record<string, string> | undefined {
  const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme)?.[1];
  if (fm === undefined) return undefined;
  let data: unknown;
  try {
    data = parse(fm);
  } catch {
    return undefined;
  }
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const ids = (Array.isArray(d.license) ? d.license : [d.license]).map(str).filter((x): x is string => Boolean(x));
  if (ids.length === 0 || (ids.length === 1 && ids[0] === 'unknown')) return undefined;
  const link = str(d.license_link);
  const asWritten = ids.join(', ');
  const base = { licenseFrom: 'model-card', licenseAsWritten: asWritten, ...(link ? { licenseLink: link } : {}) };
  if (ids.length === 1 && ids[0] === 'other') return { ...base, license: str(d.license_name) ?? 'other' };
  // Several ids do not say whether all apply or any one does: listed as written, not joined into an expression.
  if (ids.length > 1) return { ...base, license: asWritten };
  const id = ids[0]!;
  return { ...base, license: HUB_TO_SPDX[id.toLowerCase()] ?? fixupSpdxId(id) ?? id };
}

/** The manifest's licence, else the card's. */
export function modelLicence(manifest: string | undefined, readme: string | undefined): Record<string, string> | undefined {
  if (manifest) return { license: manifest, licenseFrom: 'manifest' };
  return readme === undefined ? undefined : cardLicence(readme);
}

/**
 * The model card of a repo whose include/exclude leaves README.md out: fetched for its licence only (checked
 * against its git blob sha1, as every non-LFS file is), not bundled. Undefined when there is none.
 */
export async function fetchCard(
  entry: { oid: string; lfs?: unknown } | undefined,
  url: string,
  ctx: BuildCtx,
  headers: Record<string, string>,
): Promise<string | undefined> {
  if (!entry || entry.lfs) return undefined;
  const data = await ctx.http.getBytes(url, { signal: ctx.signal, maxLength: 1 << 20, subject: url, headers }).catch(() => undefined);
  return data && gitBlobSha1(data) === entry.oid ? data.toString('utf8') : undefined;
}
