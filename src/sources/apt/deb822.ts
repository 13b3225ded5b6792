import { StringDecoder } from 'node:string_decoder';
import type { IndexRef, InstalledRecord, PackageRecord } from './types.js';

/** Packages fields that resolution, locking, the box's index and the SBOM use (lower-case). */
export const PACKAGE_FIELDS: ReadonlySet<string> = new Set([
  'package',
  'version',
  'architecture',
  'multi-arch',
  'essential',
  'priority',
  'section',
  'source',
  'homepage',
  'pre-depends',
  'depends',
  'recommends',
  'provides',
  'conflicts',
  'breaks',
  'filename',
  'size',
  'sha256',
  'installed-size',
]);

const STATUS_FIELDS: ReadonlySet<string> = new Set([
  'package',
  'status',
  'version',
  'architecture',
  'multi-arch',
  'provides',
  'depends',
  'pre-depends',
]);

/**
 * Streams deb822 stanzas (Packages, dpkg status) from chunks cut anywhere, keeping only `fields` (matched
 * case-insensitively, keys returned lower-case). Continuation lines are joined with "\n".
 */
export async function* parseStanzas(
  chunks: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  fields: ReadonlySet<string>,
): AsyncGenerator<Record<string, string>> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    let start = 0;
    for (;;) {
      const end = pending.indexOf('\n\n', start);
      if (end < 0) break;
      const s = parseStanza(pending, start, end, fields);
      if (s) yield s;
      start = end + 2;
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  const s = parseStanza(pending, 0, pending.length, fields);
  if (s) yield s;
}

function parseStanza(text: string, from: number, to: number, fields: ReadonlySet<string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let key: string | undefined;
  let i = from;
  while (i < to) {
    let nl = text.indexOf('\n', i);
    if (nl < 0 || nl > to) nl = to;
    let line = text.slice(i, nl);
    i = nl + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || line.startsWith('#')) continue;
    const c = line.charCodeAt(0);
    if (c === 0x20 || c === 0x09) {
      if (key && out) out[key] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      key = undefined;
      continue;
    }
    const k = line.slice(0, colon).toLowerCase();
    if (fields.has(k)) {
      out ??= {};
      out[k] = line.slice(colon + 1).trim();
      key = k;
    } else key = undefined;
  }
  return out;
}

/** A Packages stanza as a record; undefined when a field that locking needs is missing. */
export function toPackageRecord(f: Record<string, string>, origin: IndexRef): PackageRecord | undefined {
  const { package: name, version, architecture, filename, sha256 } = f;
  const size = Number(f.size);
  if (!name || !version || !architecture || !filename || !sha256 || !Number.isFinite(size)) return undefined;
  const rec: PackageRecord = { package: name, version, architecture, filename, size, sha256: sha256.toLowerCase(), origin };
  const ma = f['multi-arch'];
  if (ma === 'same' || ma === 'foreign' || ma === 'allowed' || ma === 'no') rec.multiArch = ma;
  if (/^yes$/i.test(f.essential ?? '')) rec.essential = true;
  if (f.priority) rec.priority = f.priority;
  if (f.section) rec.section = f.section;
  if (f.source) rec.source = f.source;
  if (f.homepage) rec.homepage = f.homepage;
  if (f['pre-depends']) rec.preDepends = f['pre-depends'];
  if (f.depends) rec.depends = f.depends;
  if (f.recommends) rec.recommends = f.recommends;
  if (f.provides) rec.provides = f.provides;
  if (f.conflicts) rec.conflicts = f.conflicts;
  if (f.breaks) rec.breaks = f.breaks;
  if (f['installed-size'] && Number.isFinite(Number(f['installed-size']))) rec.installedSize = Number(f['installed-size']);
  return rec;
}

/** Installed packages of a dpkg status file (Status "install ok installed" or "hold ok installed"). */
export async function parseStatus(chunks: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>): Promise<InstalledRecord[]> {
  const out: InstalledRecord[] = [];
  for await (const f of parseStanzas(chunks, STATUS_FIELDS)) {
    if (!/^(install|hold) ok installed$/.test(f.status ?? '')) continue;
    if (!f.package || !f.version) continue;
    const rec: InstalledRecord = { package: f.package, version: f.version, architecture: f.architecture ?? 'all' };
    const ma = f['multi-arch'];
    if (ma === 'same' || ma === 'foreign' || ma === 'allowed' || ma === 'no') rec.multiArch = ma;
    if (f.provides) rec.provides = f.provides;
    if (f.depends) rec.depends = f.depends;
    if (f['pre-depends']) rec.preDepends = f['pre-depends'];
    out.push(rec);
  }
  return out;
}
