import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BLOBS_DIR } from '../../store/store.js';
import { hexOf } from '../../store/digest.js';
import type { Locked } from '../source.js';

const CONTROL_ORDER = [
  'Multi-Arch',
  'Essential',
  'Priority',
  'Section',
  'Source',
  'Installed-Size',
  'Pre-Depends',
  'Depends',
  'Recommends',
  'Suggests',
  'Enhances',
  'Provides',
  'Conflicts',
  'Breaks',
  'Replaces',
];

/**
 * A flat repository's Packages index generated from the locked records (not from the .debs), so what apt
 * sees is exactly what was locked and verified. Filename points into the bundle's blobs.
 */
export function packagesIndex(items: readonly Locked[]): string {
  return items
    .map((a) => {
      const arch = a.id.slice(a.id.lastIndexOf(':') + 1);
      const lines = [`Package: ${a.name}`, `Version: ${a.version}`, `Architecture: ${arch}`];
      for (const f of CONTROL_ORDER) if (a.meta?.[f]) lines.push(`${f}: ${a.meta[f]}`);
      lines.push(`Filename: ${BLOBS_DIR}/${hexOf(a.digest)}`, `Size: ${a.size}`, `SHA256: ${hexOf(a.digest)}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/** A signed bundle's flat apt repository index: written by `sign` (the box has no secret key), checked by apt. */
export const APT_PACKAGES = 'apt/Packages';
export const APT_RELEASE = 'apt/Release';
export const APT_INRELEASE = 'apt/InRelease';

/**
 * The Release of the bundle's flat repository (Debian RepositoryFormat, "Flat Repository Format": the Release
 * sits beside Packages and lists it by SHA256; no Suite or Components). Date is the bundle's `created`, so the
 * same bundle gives the same Release whenever it is signed.
 */
export function releaseFile(packages: string, o: { name: string; version: string; created: string; items: readonly Locked[] }): string {
  const archs = [...new Set(o.items.map((a) => a.id.slice(a.id.lastIndexOf(':') + 1)))].sort();
  // RepositoryFormat: Date in RFC 2822 form, time zone UTC.
  const date = new Date(o.created).toUTCString().replace(/GMT$/, 'UTC');
  const sha = createHash('sha256').update(packages).digest('hex');
  return [
    'Origin: vault-bundle',
    `Label: ${o.name}`,
    `Version: ${o.version}`,
    `Date: ${date}`,
    `Architectures: ${archs.join(' ')}`,
    `Description: ${o.name} ${o.version}, signed with the bundle`,
    'SHA256:',
    ` ${sha} ${Buffer.byteLength(packages)} Packages`,
    '',
  ].join('\n');
}

/** apt options that make the bundle the only source and keep every apt state file in the work folder. */
export function isolatedAptOptions(work: string): string[] {
  const o = {
    'Dir::Etc::SourceList': join(work, 'sources.list'),
    'Dir::Etc::SourceParts': join(work, 'sources.list.d'),
    'Dir::State::Lists': join(work, 'lists'),
    'Dir::Cache': join(work, 'cache'),
    'Dir::Cache::pkgcache': '',
    'Dir::Cache::srcpkgcache': '',
    'Acquire::Languages': 'none',
    'APT::Get::List-Cleanup': 'false',
    'Acquire::http::Proxy': 'DIRECT',
  };
  return Object.entries(o).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}
