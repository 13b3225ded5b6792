import type { AptPackageRecord } from './records.js';
import type { IndexRef, PackageRecord } from './types.js';

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

/** The arena's string fields, in the order they are written; a bit each in the row's mask. */
const TEXT = ['version', 'preDepends', 'depends', 'recommends', 'suggests', 'provides', 'conflicts', 'breaks', 'replaces', 'enhances', 'filename'] as const;
type TextField = (typeof TEXT)[number];
const PROVIDES_BIT = 1 << TEXT.indexOf('provides');
/** sha256 as 32 bytes (64 lower-case hex digits), else as text after the other fields. */
const SHA_BIN = 1 << 11;
const SHA_TEXT = 1 << 12;
/** Filename is `<folder><package>_<version without epoch>_<architecture>.deb` (Debian's pool layout): only the folder is kept, as an id. */
const FILE_POOL = 1 << 13;
const FILE_BIT = 1 << TEXT.indexOf('filename');
const REFS = 5; // priority, section, source, homepage, pool folder

/** The file name Debian's pool gives a package: what FILE_POOL rows leave out. */
const poolName = (name: string, version: string, arch: string) => `${name}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`;
const HEX64 = /^[0-9a-f]{64}$/;

const MA = [undefined, 'same', 'foreign', 'allowed', 'no'] as const;
const F_ESSENTIAL = 8;
const F_IMPORTANT = 16;

const CHUNK = 1 << 20;

/**
 * The Packages stanzas of a lock, compactly: the text fields of each row in a byte arena (UTF-8, so any
 * string comes back exactly; by Debian Policy they are ASCII, a byte a char), the repeating ones
 * (priority, section, source, homepage, architecture, index) as numbers into tables of distinct values, sizes
 * in typed arrays. A record is built when the resolver first looks at its row and kept from then on (a closure
 * looks at a few thousand of the 67,000 rows of Debian's indexes); before, 67,000 records of 24 properties and
 * their 500,000 strings were most of the lock's memory.
 */
export class Universe implements RecordTable<AptPackageRecord> {
  length = 0;
  private readonly chunks: Buffer[] = [];
  private chunk: Buffer = Buffer.alloc(0);
  private pos = CHUNK;
  private offs = new Float64Array(1024);
  private sizes = new Float64Array(1024);
  private isizes = new Float64Array(1024);
  /** REFS a row: ids into `strings` (0: absent). */
  private refs = new Int32Array(REFS * 1024);
  private small = new Uint16Array(3 * 1024); // architecture id, origin id, flags (multi-arch 0-4, essential, important)
  private readonly names: string[] = [];
  private readonly strings: (string | undefined)[] = [undefined];
  private readonly stringIds = new Map<string, number>();
  private readonly origins: IndexRef[] = [];
  private readonly kept = new Map<number, AptPackageRecord>();

  private id(v: string | undefined): number {
    if (v === undefined) return 0;
    let n = this.stringIds.get(v);
    if (n === undefined) {
      n = this.strings.length;
      this.strings.push(v);
      this.stringIds.set(v, n);
    }
    return n;
  }

  private grow(): void {
    const n = this.offs.length * 2;
    const more = <T extends Float64Array | Int32Array | Uint16Array>(a: T, per: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n * per);
      b.set(a);
      return b;
    };
    this.offs = more(this.offs, 1);
    this.sizes = more(this.sizes, 1);
    this.isizes = more(this.isizes, 1);
    this.refs = more(this.refs, REFS);
    this.small = more(this.small, 3);
  }

  /** Room for `need` bytes in the current chunk (a row never spans two); returns the write position. */
  private room(need: number): number {
    if (this.pos + need > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK, need));
      this.chunks.push(this.chunk);
      this.pos = 0;
    }
    return this.pos;
  }

  add(rec: AptPackageRecord): void {
    const i = this.length;
    if (i === this.offs.length) this.grow();
    let mask = 0;
    let need = 4;
    for (let f = 0; f < TEXT.length; f++) {
      const v = rec[TEXT[f]!];
      if (v !== undefined) {
        mask |= 1 << f;
        need += 5 + Buffer.byteLength(v);
      }
    }
    const base = poolName(rec.package, rec.version, rec.architecture);
    const pooled = rec.filename.length > base.length && rec.filename.endsWith(base) && rec.filename[rec.filename.length - base.length - 1] === '/';
    if (pooled) {
      mask = (mask & ~FILE_BIT) | FILE_POOL;
      need -= 5 + Buffer.byteLength(rec.filename);
    }
    const shaBin = HEX64.test(rec.sha256);
    mask |= shaBin ? SHA_BIN : SHA_TEXT;
    need += shaBin ? 32 : 5 + Buffer.byteLength(rec.sha256);
    const start = this.room(need);
    const buf = this.chunk;
    let p = buf.writeUInt32LE(mask, start);
    const text = (v: string) => {
      const n = Buffer.byteLength(v);
      p = writeVarint(buf, p, n);
      p += buf.write(v, p, n, 'utf8');
    };
    for (let f = 0; f < TEXT.length; f++) if (mask & (1 << f)) text(rec[TEXT[f]!]!);
    if (shaBin) p += buf.write(rec.sha256, p, 32, 'hex');
    else text(rec.sha256);
    this.pos = p;
    this.offs[i] = (this.chunks.length - 1) * CHUNK + start;
    this.sizes[i] = rec.size;
    this.isizes[i] = rec.installedSize ?? NaN;
    const folder = pooled ? this.id(rec.filename.slice(0, rec.filename.length - base.length)) : 0;
    this.refs.set([this.id(rec.priority), this.id(rec.section), this.id(rec.source), this.id(rec.homepage), folder], REFS * i);
    let o = this.origins.indexOf(rec.origin);
    if (o < 0) o = this.origins.push(rec.origin) - 1;
    const flags = MA.indexOf(rec.multiArch) | (rec.essential ? F_ESSENTIAL : 0) | (rec.important ? F_IMPORTANT : 0);
    this.small.set([this.id(rec.architecture), o, flags], 3 * i);
    this.names.push(rec.package);
    this.length++;
  }

  name(i: number): string {
    return this.names[i]!;
  }

  arch(i: number): string {
    return this.strings[this.small[3 * i]!]!;
  }

  provides(i: number): string | undefined {
    return this.text(i, PROVIDES_BIT);
  }

  /** One text field of row i (its bit in TEXT), undefined when the row has none. */
  private text(i: number, bit: number): string | undefined {
    const { buf, at } = this.at(i);
    const mask = buf.readUInt32LE(at);
    if (!(mask & bit)) return undefined;
    let p = at + 4;
    for (let f = 0; 1 << f < bit; f++) if (mask & (1 << f)) p = skipText(buf, p);
    return readText(buf, p).text;
  }

  private at(i: number): { buf: Buffer; at: number } {
    const off = this.offs[i]!;
    return { buf: this.chunks[Math.floor(off / CHUNK)]!, at: off % CHUNK };
  }

  get(i: number): AptPackageRecord {
    let r = this.kept.get(i);
    if (r) return r;
    const t: Partial<Record<TextField, string>> = {};
    const sha256 = this.texts(i, t, true)!;
    const s = this.strings;
    const k = REFS * i;
    const flags = this.small[3 * i + 2]!;
    const isz = this.isizes[i]!;
    // the same properties in the same order as toPackageRecord gives
    r = {
      package: this.names[i]!,
      version: t.version!,
      architecture: this.arch(i),
      multiArch: MA[flags & 7],
      essential: flags & F_ESSENTIAL ? true : undefined,
      important: flags & F_IMPORTANT ? true : undefined,
      priority: s[this.refs[k]!],
      section: s[this.refs[k + 1]!],
      source: s[this.refs[k + 2]!],
      homepage: s[this.refs[k + 3]!],
      preDepends: t.preDepends,
      depends: t.depends,
      recommends: t.recommends,
      suggests: t.suggests,
      provides: t.provides,
      conflicts: t.conflicts,
      breaks: t.breaks,
      replaces: t.replaces,
      enhances: t.enhances,
      filename: t.filename ?? s[this.refs[k + 4]!]! + poolName(this.names[i]!, t.version!, this.arch(i)),
      size: this.sizes[i]!,
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
   * the old generation and raised the lock's peak by some 40 MB). Filename and sha256 are left empty.
   */
  peek(i: number): AptPackageRecord {
    const r = (this.scratch ??= { package: '', version: '', architecture: '', filename: '', size: 0, sha256: '', origin: this.origins[0]! });
    const t = r as Partial<Record<TextField, string>>;
    for (const f of TEXT) t[f] = undefined;
    this.texts(i, t, false);
    r.filename = '';
    r.package = this.names[i]!;
    r.architecture = this.arch(i);
    r.multiArch = MA[this.small[3 * i + 2]! & 7];
    return r;
  }

  private scratch: AptPackageRecord | undefined;

  /** Fills the text fields of row i into `t`; with `sha`, returns the sha256 too. */
  private texts(i: number, t: Partial<Record<TextField, string>>, sha: boolean): string | undefined {
    const { buf, at } = this.at(i);
    const mask = buf.readUInt32LE(at);
    let p = at + 4;
    for (let f = 0; f < TEXT.length; f++) {
      if (!(mask & (1 << f))) continue;
      const r = readText(buf, p);
      t[TEXT[f]!] = r.text;
      p = r.next;
    }
    if (!sha) return undefined;
    return mask & SHA_BIN ? buf.toString('hex', p, p + 32) : readText(buf, p).text;
  }
}

function writeVarint(buf: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

/** Where a text starts and how long it is (a varint length before it). */
function span(buf: Buffer, p: number): { start: number; end: number } {
  let n = 0;
  let shift = 0;
  for (;;) {
    const b = buf[p++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { start: p, end: p + n };
    shift += 7;
  }
}

function readText(buf: Buffer, p: number): { text: string; next: number } {
  const { start, end } = span(buf, p);
  return { text: buf.toString('utf8', start, end), next: end };
}

function skipText(buf: Buffer, p: number): number {
  return span(buf, p).end;
}
