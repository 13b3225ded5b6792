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

type Chunks = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>;

/**
 * Streams deb822 stanzas (Packages, dpkg status) from chunks cut anywhere, calling `onStanza` with only the
 * `fields` asked for (matched case-insensitively, keys lower-case). Continuation lines are joined with "\n".
 * Bytes are read as latin1 (one byte, one char: fast, and a chunk may end mid-character); the few values
 * kept that hold UTF-8 are decoded afterwards.
 */
export async function readStanzas(chunks: Chunks, fields: ReadonlySet<string>, onStanza: (s: Record<string, string>) => void): Promise<void> {
  let pending = '';
  const keys = new Map<string, string | null>();
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)).toString('latin1');
    let start = 0;
    for (;;) {
      const end = pending.indexOf('\n\n', start);
      if (end < 0) break;
      const st = parseStanza(pending, start, end, fields, keys);
      if (st) onStanza(st);
      start = end + 2;
    }
    pending = pending.slice(start);
  }
  const st = parseStanza(pending, 0, pending.length, fields, keys);
  if (st) onStanza(st);
}

/** The same stanzas as an async iterator (convenient where speed does not matter). */
export async function* parseStanzas(chunks: Chunks, fields: ReadonlySet<string>): AsyncGenerator<Record<string, string>> {
  const all: Record<string, string>[] = [];
  await readStanzas(chunks, fields, (s) => all.push(s));
  yield* all;
}

const NON_ASCII = /[\u0080-\u00ff]/;

function parseStanza(
  text: string,
  from: number,
  to: number,
  fields: ReadonlySet<string>,
  keys: Map<string, string | null>,
): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let key: string | undefined;
  let i = from;
  while (i < to) {
    let nl = text.indexOf('\n', i);
    if (nl < 0 || nl > to) nl = to;
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09) {
      // Continuation: only copied for a kept field (Descriptions are long and never kept).
      if (key && out) out[key] += `\n${text.slice(i, nl).trim()}`;
    } else if (c !== 0x23 && c !== 0x0d && i < nl) {
      const colon = text.indexOf(':', i);
      key = undefined;
      if (colon > i && colon < nl) {
        const raw = text.slice(i, colon);
        let k = keys.get(raw);
        if (k === undefined) {
          const lower = raw.toLowerCase();
          k = fields.has(lower) ? lower : null;
          keys.set(raw, k);
        }
        if (k !== null) {
          out ??= {};
          out[k] = text.slice(colon + 1, nl).trim();
          key = k;
        }
      }
    }
    i = nl + 1;
  }
  // Names, versions, relations and paths are ASCII by Policy; only a Homepage may carry UTF-8.
  if (out?.homepage && NON_ASCII.test(out.homepage)) out.homepage = Buffer.from(out.homepage, 'latin1').toString('utf8');
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
export async function parseStatus(chunks: Chunks): Promise<InstalledRecord[]> {
  const out: InstalledRecord[] = [];
  await readStanzas(chunks, STATUS_FIELDS, (f) => {
    if (!/^(install|hold) ok installed$/.test(f.status ?? '')) return;
    if (!f.package || !f.version) return;
    const rec: InstalledRecord = { package: f.package, version: f.version, architecture: f.architecture ?? 'all' };
    const ma = f['multi-arch'];
    if (ma === 'same' || ma === 'foreign' || ma === 'allowed' || ma === 'no') rec.multiArch = ma;
    if (f.provides) rec.provides = f.provides;
    if (f.depends) rec.depends = f.depends;
    if (f['pre-depends']) rec.preDepends = f['pre-depends'];
    out.push(rec);
  });
  return out;
}
