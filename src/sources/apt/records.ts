import { type Chunks, STATUS_FIELDS, readStanzas } from './deb822.js';
import type { IndexRef, InstalledRecord, PackageRecord } from './types.js';

// Packages and dpkg status stanzas (read by deb822.ts) as the records locking and apt's resolver use.

/** A Packages record with the few extra fields apt's resolver looks at. */
export interface AptPackageRecord extends PackageRecord {
  /** `Important: yes` or `Protected: yes` (apt's Flag::Important). */
  important?: boolean;
  suggests?: string;
  replaces?: string;
  enhances?: string;
}

/** An installed package with the rest of its dpkg status stanza that apt's resolver reads. */
export interface StatusRecord extends InstalledRecord {
  installedSize?: number;
  essential?: boolean;
  important?: boolean;
  priority?: string;
  source?: string;
  recommends?: string;
  suggests?: string;
  conflicts?: string;
  breaks?: string;
  replaces?: string;
  enhances?: string;
  /** `hold ok installed`: apt changes it only when asked to. A non-enumerable property. */
  readonly hold?: boolean;
}

const MULTI_ARCH = new Set(['same', 'foreign', 'allowed', 'no']);
const yes = (v: string | undefined) => v !== undefined && (v === 'yes' || v.toLowerCase() === 'yes');

/**
 * A Packages stanza as a record; undefined when a field that locking needs is missing. Every record has the
 * same properties in the same order (absent fields are undefined): 60,000 records of one shape are smaller
 * and much faster to read than records of a hundred shapes.
 */
export function toPackageRecord(f: Record<string, string>, origin: IndexRef): AptPackageRecord | undefined {
  const { package: name, version, architecture, filename, sha256 } = f;
  const size = Number(f.size);
  if (!name || !version || !architecture || !filename || !sha256 || !f.size || !Number.isFinite(size)) return undefined;
  const ma = f['multi-arch'];
  const isz = f['installed-size'];
  const installedSize = isz ? Number(isz) : NaN;
  const rec = {
    package: name,
    version,
    architecture: intern(architecture),
    multiArch: ma === undefined ? undefined : multiArchOf(ma),
    essential: yes(f.essential) || undefined,
    important: yes(f.important) || yes(f.protected) || undefined,
    priority: f.priority ? intern(f.priority) : undefined,
    section: f.section ? intern(f.section) : undefined,
    source: f.source || undefined,
    homepage: f.homepage || undefined,
    preDepends: f['pre-depends'] || undefined,
    depends: f.depends || undefined,
    recommends: f.recommends || undefined,
    suggests: f.suggests || undefined,
    provides: f.provides || undefined,
    conflicts: f.conflicts || undefined,
    breaks: f.breaks || undefined,
    replaces: f.replaces || undefined,
    enhances: f.enhances || undefined,
    filename,
    size,
    sha256: sha256.toLowerCase(),
    installedSize: Number.isFinite(installedSize) ? installedSize : undefined,
    origin,
  };
  return rec;
}

/**
 * One string per distinct value of the fields with a handful of values (architectures, priorities,
 * sections). The table lives as long as the module, so Source and Homepage (30,000 distinct values in
 * Debian's indexes) are not interned here: the lock's universe keeps them as bytes (universe.ts).
 */
const interned = new Map<string, string>();
function intern(v: string): string {
  const known = interned.get(v);
  if (known !== undefined) return known;
  interned.set(v, v);
  return v;
}

function multiArchOf(v: string): PackageRecord['multiArch'] {
  const ma = v.toLowerCase();
  return MULTI_ARCH.has(ma) ? (ma as PackageRecord['multiArch']) : undefined;
}

/** The code that makes a Packages record of a stanza (universe-cache.ts names kept parses by it). */
export function recordCode(): string {
  return [toPackageRecord, yes, intern, multiArchOf, [...MULTI_ARCH]].map(String).join('\n');
}

/**
 * Installed packages of a dpkg status file: stanzas whose Status is `install ok installed` or
 * `hold ok installed` (a held one carries a non-enumerable `hold: true`), with the fields apt's resolver reads.
 */
export async function parseStatus(chunks: Chunks): Promise<StatusRecord[]> {
  const out: StatusRecord[] = [];
  await readStanzas(chunks, STATUS_FIELDS, (f) => {
    const m = /^(install|hold)\s+ok\s+installed$/i.exec(f.status ?? '');
    if (!m || !f.package || !f.version) return;
    const rec: StatusRecord = { package: f.package, version: f.version, architecture: f.architecture ?? 'all' };
    const ma = f['multi-arch']?.toLowerCase();
    if (ma && MULTI_ARCH.has(ma)) rec.multiArch = ma as PackageRecord['multiArch'];
    if (f.provides) rec.provides = f.provides;
    if (f.depends) rec.depends = f.depends;
    if (f['pre-depends']) rec.preDepends = f['pre-depends'];
    if (yes(f.essential)) rec.essential = true;
    if (yes(f.important) || yes(f.protected)) rec.important = true;
    if (f.priority) rec.priority = f.priority;
    if (f.source) rec.source = f.source;
    if (f.recommends) rec.recommends = f.recommends;
    if (f.suggests) rec.suggests = f.suggests;
    if (f.conflicts) rec.conflicts = f.conflicts;
    if (f.breaks) rec.breaks = f.breaks;
    if (f.replaces) rec.replaces = f.replaces;
    if (f.enhances) rec.enhances = f.enhances;
    const isz = f['installed-size'];
    if (isz && Number.isFinite(Number(isz))) rec.installedSize = Number(isz);
    if (m[1]!.toLowerCase() === 'hold') Object.defineProperty(rec, 'hold', { value: true, enumerable: false });
    out.push(rec);
  });
  return out;
}
