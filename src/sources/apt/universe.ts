import type { AptPackageRecord } from './records.js';
import type { Spill } from '../../util/spill.js';
import type { IndexRef, PackageRecord } from './types.js';
import { type SegmentOut, type UniverseSegment, readText, span, writeVarint } from './row-bytes.js';

/**
 * What the resolver reads of the stanzas of every index: records by row, and the three things it indexes every
 * stanza by (name, architecture, Provides) without building the record. An array of records is one
 * (`recordTable`); a lock of Debian's indexes uses `Universe`, which keeps 67,000 stanzas in a byte arena.
 */
export interface RecordTable<R extends PackageRecord = PackageRecord> {
  readonly length: number;
  /** The record of row i: the same object every time it is asked for. */
  get(i: number): R;
  /** The record of row i for one look (a scan over every row): not kept, maybe a new object. */
  peek(i: number): R;
  name(i: number): string;
  arch(i: number): string;
  provides(i: number): string | undefined;
}

/** An array of records as a table. */
export function recordTable<R extends PackageRecord>(records: readonly R[]): RecordTable<R> {
  return {
    length: records.length,
    get: (i) => records[i]!,
    peek: (i) => records[i]!,
    name: (i) => records[i]!.package,
    arch: (i) => records[i]!.architecture,
    provides: (i) => records[i]!.provides,
  };
}

/**
 * The row's string fields, in the order they are written; a bit each in the row's mask. The relationship
 * fields come first: a scan (peek) reads those and stops.
 */
const TEXT = [
  'version',
  'preDepends',
  'depends',
  'recommends',
  'suggests',
  'provides',
  'conflicts',
  'breaks',
  'replaces',
  'enhances',
  'priority',
  'section',
  'source',
  'homepage',
  'filename',
] as const;
type TextField = (typeof TEXT)[number];
const SCANNED = TEXT.indexOf('enhances') + 1;
const PROVIDES_BIT = 1 << TEXT.indexOf('provides');
/** sha256 as 32 bytes (64 lower-case hex digits), else as text after the other fields. */
const SHA_BIN = 1 << TEXT.length;
/** Filename is `<folder><package>_<version without epoch>_<architecture>.deb` (Debian's pool layout): the filename field holds the folder. */
const FILE_POOL = 1 << (TEXT.length + 1);
const FILE = TEXT.indexOf('filename');

/** The file name Debian's pool gives a package: what FILE_POOL rows leave out. */
const poolName = (name: string, version: string, arch: string) => `${name}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`;
const HEX64 = /^[0-9a-f]{64}$/;

const MA = [undefined, 'same', 'foreign', 'allowed', 'no'] as const;
const F_ESSENTIAL = 8;
const F_IMPORTANT = 16;
const F_PROVIDES = 32;

/**
 * The Packages stanzas of a lock, compactly: each row's fields as bytes in a Spill (util/spill.ts: a file
 * whose pages are the kernel's, not the process's; UTF-8, so any string comes back exactly; sha256 as 32
 * bytes, sizes as doubles), and in memory only what the resolver asks of every row: its name, architecture
 * and index (as ids), Multi-Arch, Essential/Important and whether it has Provides. A record is built when the
 * resolver first looks at its row and kept from then on (a closure looks at a few thousand of the 67,000
 * rows of Debian's indexes); a scan over every row (apt's package IDs) reads them through a moving window.
 * Before: 67,000 records of 24 properties and their 500,000 strings, then a byte arena in memory (~20 MB
 * with its tables of homepages, sources and pool folders).
 */
export class Universe implements RecordTable<AptPackageRecord> {
  length = 0;
  private offs = new Float64Array(1024);
  private small = new Uint16Array(3 * 1024); // architecture id, origin id, flags (multi-arch 0-4, essential, important, provides)
  private readonly names: string[] = [];
  private readonly archs: string[] = [];
  private readonly origins: IndexRef[] = [];
  private readonly kept = new Map<number, AptPackageRecord>();

  constructor(private readonly rows: Spill) {}

  private grow(): void {
    const n = this.offs.length * 2;
    const offs = new Float64Array(n);
    offs.set(this.offs);
    this.offs = offs;
    const small = new Uint16Array(3 * n);
    small.set(this.small);
    this.small = small;
  }

  add(rec: AptPackageRecord): void {
    const i = this.length;
    if (i === this.offs.length) this.grow();
    const base = poolName(rec.package, rec.version, rec.architecture);
    const f = rec.filename;
    const pooled = f.length > base.length && f.endsWith(base) && f[f.length - base.length - 1] === '/';
    const file = pooled ? f.slice(0, f.length - base.length) : f;
    const shaBin = HEX64.test(rec.sha256);
    let mask = (shaBin ? SHA_BIN : 0) | (pooled ? FILE_POOL : 0);
    let need = 4 + 16 + (shaBin ? 32 : 5 + Buffer.byteLength(rec.sha256));
    for (let k = 0; k < TEXT.length; k++) {
      const v = k === FILE ? file : rec[TEXT[k]!];
      if (v === undefined) continue;
      mask |= 1 << k;
      need += 5 + Buffer.byteLength(v);
    }
    const { buf, at } = this.rows.room(need);
    let p = buf.writeUInt32LE(mask, at);
    const text = (v: string) => {
      const n = Buffer.byteLength(v);
      p = writeVarint(buf, p, n);
      p += buf.write(v, p, n, 'utf8');
    };
    for (let k = 0; k < TEXT.length; k++) if (mask & (1 << k)) text(k === FILE ? file : rec[TEXT[k]!]!);
    if (shaBin) p += buf.write(rec.sha256, p, 32, 'hex');
    else text(rec.sha256);
    p = buf.writeDoubleLE(rec.size, p);
    p = buf.writeDoubleLE(rec.installedSize ?? NaN, p);
    this.offs[i] = this.rows.size;
    this.rows.commit(p);
    let o = this.origins.indexOf(rec.origin);
    if (o < 0) o = this.origins.push(rec.origin) - 1;
    let a = this.archs.indexOf(rec.architecture);
    if (a < 0) a = this.archs.push(rec.architecture) - 1;
    const flags =
      MA.indexOf(rec.multiArch) | (rec.essential ? F_ESSENTIAL : 0) | (rec.important ? F_IMPORTANT : 0) | (rec.provides !== undefined ? F_PROVIDES : 0);
    this.small.set([a, o, flags], 3 * i);
    this.names.push(rec.package);
    this.length++;
  }

  name(i: number): string {
    return this.names[i]!;
  }

  arch(i: number): string {
    return this.archs[this.small[3 * i]!]!;
  }

  /** Read in order of rows (the resolver's name index), through the window. */
  provides(i: number): string | undefined {
    if (!(this.small[3 * i + 2]! & F_PROVIDES)) return undefined;
    const { buf, at } = this.row(i, true);
    const mask = buf.readUInt32LE(at);
    let p = at + 4;
    for (let k = 0; 1 << k < PROVIDES_BIT; k++) if (mask & (1 << k)) p = span(buf, p).end;
    return readText(buf, p).text;
  }

  private row(i: number, scan: boolean) {
    const end = i + 1 < this.length ? this.offs[i + 1]! : this.rows.size;
    return this.rows.row(this.offs[i]!, end, scan);
  }

  get(i: number): AptPackageRecord {
    let r = this.kept.get(i);
    if (r) return r;
    const t: Partial<Record<TextField, string>> = {};
    const { buf, at } = this.row(i, false);
    const mask = buf.readUInt32LE(at);
    let p = this.texts(buf, at, t, TEXT.length);
    let sha256: string;
    if (mask & SHA_BIN) {
      sha256 = buf.toString('hex', p, p + 32);
      p += 32;
    } else {
      const s = readText(buf, p);
      sha256 = s.text;
      p = s.next;
    }
    const isz = buf.readDoubleLE(p + 8);
    const flags = this.small[3 * i + 2]!;
    // the same properties in the same order as toPackageRecord gives
    r = {
      package: this.names[i]!,
      version: t.version!,
      architecture: this.arch(i),
      multiArch: MA[flags & 7],
      essential: flags & F_ESSENTIAL ? true : undefined,
      important: flags & F_IMPORTANT ? true : undefined,
      priority: t.priority,
      section: t.section,
      source: t.source,
      homepage: t.homepage,
      preDepends: t.preDepends,
      depends: t.depends,
      recommends: t.recommends,
      suggests: t.suggests,
      provides: t.provides,
      conflicts: t.conflicts,
      breaks: t.breaks,
      replaces: t.replaces,
      enhances: t.enhances,
      filename: mask & FILE_POOL ? t.filename! + poolName(this.names[i]!, t.version!, this.arch(i)) : t.filename!,
      size: buf.readDoubleLE(p),
      sha256,
      installedSize: Number.isNaN(isz) ? undefined : isz,
      origin: this.origins[this.small[3 * i + 1]!]!,
    };
    this.kept.set(i, r);
    return r;
  }

  /**
   * Row i for a scan over every row (apt's package IDs): name, architecture, version, Multi-Arch and the
   * relationship fields, in one object refilled by the next peek (67,000 records of garbage were promoted to
   * the old generation and raised the lock's peak by some 40 MB). The other fields are left empty.
   */
  peek(i: number): AptPackageRecord {
    const r = (this.scratch ??= { package: '', version: '', architecture: '', filename: '', size: 0, sha256: '', origin: this.origins[0]! });
    const t = r as Partial<Record<TextField, string>>;
    for (const f of TEXT) t[f] = undefined;
    const { buf, at } = this.row(i, true);
    this.texts(buf, at, t, SCANNED);
    r.filename = '';
    r.package = this.names[i]!;
    r.architecture = this.arch(i);
    r.multiArch = MA[this.small[3 * i + 2]! & 7];
    return r;
  }

  private scratch: AptPackageRecord | undefined;

  /** Fills the first `upTo` text fields of the row at buf[at] into `t`; returns where the next field starts. */
  private texts(buf: Buffer, at: number, t: Partial<Record<TextField, string>>, upTo: number): number {
    const mask = buf.readUInt32LE(at);
    let p = at + 4;
    for (let k = 0; k < upTo; k++) {
      if (!(mask & (1 << k))) continue;
      const r = readText(buf, p);
      t[TEXT[k]!] = r.text;
      p = r.next;
    }
    return p;
  }

  /** Rows [from, to): what universe-cache.ts keeps of one index (its origin is the Release's, not kept). */
  segment(from: number, to = this.length): SegmentOut {
    const n = to - from;
    const end = to < this.length ? this.offs[to]! : this.rows.size;
    const base = n > 0 ? this.offs[from]! : end;
    const starts = new Uint32Array(n + 1).fill(end - base);
    const small = new Uint16Array(2 * n);
    for (let r = 0; r < n; r++) {
      starts[r] = this.offs[from + r]! - base;
      small.set([this.small[3 * (from + r)]!, this.small[3 * (from + r) + 2]!], 2 * r);
    }
    const rows = this.rows;
    function* rowChunks() {
      const chunk = Buffer.allocUnsafeSlow(1 << 20);
      for (let p = base; p < end; p += chunk.length) yield rows.bytes(p, Math.min(end, p + chunk.length), chunk);
    }
    return { rowBytes: end - base, rowChunks, starts, small, names: this.names.slice(from, to), archs: [...this.archs] };
  }

  /** Appends the rows of a segment, as if each had been added with `origin`. */
  addSegment(seg: UniverseSegment, origin: IndexRef): void {
    let o = this.origins.indexOf(origin);
    if (o < 0) o = this.origins.push(origin) - 1;
    const archIds = seg.archs.map((a) => (this.archs.includes(a) ? this.archs.indexOf(a) : this.archs.push(a) - 1));
    for (let r = 0; r < seg.names.length; r++) {
      const i = this.length;
      if (i === this.offs.length) this.grow();
      const a = seg.starts[r]!;
      const b = seg.starts[r + 1]!;
      const { buf, at } = this.rows.room(b - a);
      seg.rows.copy(buf, at, a, b);
      this.offs[i] = this.rows.size;
      this.rows.commit(at + b - a);
      this.small.set([archIds[seg.small[2 * r]!]!, o, seg.small[2 * r + 1]!], 3 * i);
      this.names.push(seg.names[r]!);
      this.length++;
    }
  }

  /** The rows are no longer read (the records built so far stay). */
  close(): void {
    this.rows.close();
  }
}

/** The layout and code of rows: what a kept segment means (universe-cache.ts names its files by it). */
export function rowCode(): string {
  return [1, TEXT, MA, [SHA_BIN, FILE_POOL, F_ESSENTIAL, F_IMPORTANT, F_PROVIDES], Universe, poolName].map(String).join('\n');
}
