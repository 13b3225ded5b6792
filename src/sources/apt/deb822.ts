/**
 * Packages fields that resolution, locking, the box's index and the SBOM use (lower-case). Suggests,
 * Replaces and Enhances are kept because apt numbers packages in the order it first meets their names (its
 * last tie-break between equally good providers); Important/Protected mark packages apt prefers.
 */
export const PACKAGE_FIELDS: ReadonlySet<string> = new Set([
  'package',
  'version',
  'architecture',
  'multi-arch',
  'essential',
  'important',
  'protected',
  'priority',
  'section',
  'source',
  'homepage',
  'pre-depends',
  'depends',
  'recommends',
  'suggests',
  'provides',
  'conflicts',
  'breaks',
  'replaces',
  'enhances',
  'filename',
  'size',
  'sha256',
  'installed-size',
]);

export const STATUS_FIELDS: ReadonlySet<string> = new Set([
  'package',
  'installed-size',
  'status',
  'version',
  'architecture',
  'multi-arch',
  'essential',
  'important',
  'protected',
  'priority',
  'source',
  'provides',
  'pre-depends',
  'depends',
  'recommends',
  'suggests',
  'conflicts',
  'breaks',
  'replaces',
  'enhances',
]);

export type Chunk = Buffer | Uint8Array | string;
export type Chunks = AsyncIterable<Chunk> | Iterable<Chunk>;

const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const HASH = 0x23;

const NON_ASCII = /[\u0080-\u00ff]/;

/** Fields whose values are ASCII by Debian Policy (names, versions, relations, pool paths, hashes, numbers). */
const ASCII_FIELDS = new Set([
  'package',
  'version',
  'architecture',
  'multi-arch',
  'essential',
  'important',
  'protected',
  'priority',
  'section',
  'source',
  'pre-depends',
  'depends',
  'recommends',
  'suggests',
  'provides',
  'conflicts',
  'breaks',
  'replaces',
  'enhances',
  'filename',
  'size',
  'sha256',
  'sha1',
  'sha512',
  'md5sum',
  'installed-size',
  'status',
  'description-md5',
  'built-using',
  'static-built-using',
]);

/**
 * Chunks are read in pieces of at most this many bytes: the latin1 text of a piece (and its join with the
 * carried line) then stays below V8's large-object size (128 KiB), so it dies in the young generation. With
 * 1 MiB gunzip chunks every piece went to the large-object space, which only a full GC empties, and some
 * 100 MB of dead text piled up during a lock of Debian's indexes.
 */
const PIECE = 64 * 1024;

interface Key {
  name: string;
  ascii: boolean;
}

/**
 * The deb822 line machine. Chunks are read as latin1 (one byte, one char: fast, exact across chunk cuts even
 * inside a UTF-8 sequence); only the unfinished last line is carried over. It emits a stanza at each empty
 * (or white-space only) line and at the end. Only wanted fields are sliced out; continuation lines of other
 * fields (Descriptions) cost one char test. Kept values that are not ASCII are decoded as UTF-8.
 */
class StanzaReader {
  private cur: Record<string, string> | undefined;
  private key: Key | undefined;
  private carry = '';
  /** The bytes of the piece being read, which `value` cuts strings from: text index `off` is byte 0. */
  private bytes: Buffer = Buffer.alloc(0);
  private off = 0;
  private readonly keys = new Map<string, Key | null>();
  constructor(
    private readonly fields: ReadonlySet<string>,
    private readonly emit: (s: Record<string, string>) => void,
  ) {}

  private end(): void {
    if (this.cur) this.emit(this.cur);
    this.cur = undefined;
    this.key = undefined;
  }

  /**
   * The text [i, j) as a string, UTF-8 decoded unless the field is ASCII by Policy. It is cut from the bytes
   * (`bytes` holds the same text as `t`, one byte per char): a new flat string, neither a view that would pin
   * the whole 1 MiB chunk nor a 32-byte SlicedString over a copy (376,000 of them, 11.5 MB, for Debian's
   * indexes when values were copied with a string trick).
   */
  private value(t: string, i: number, j: number, ascii: boolean): string {
    const v = t.slice(i, j);
    const enc = ascii || !NON_ASCII.test(v) ? 'latin1' : 'utf8';
    if (enc === 'latin1' && j - i <= 12) return v; // V8 copies short slices
    // A value that began in the carried line: copied from its own text (rare, one line per piece).
    if (i < this.off) return Buffer.from(v, 'latin1').toString(enc);
    return this.bytes.toString(enc, i - this.off, j - this.off);
  }

  private line(t: string, s: number, e: number): void {
    if (e > s && t.charCodeAt(e - 1) === CR) e--;
    if (s === e) return this.end();
    const c = t.charCodeAt(s);
    if (c === SP || c === TAB) {
      const key = this.key;
      let i = s + 1;
      while (i < e && (t.charCodeAt(i) === SP || t.charCodeAt(i) === TAB)) i++;
      if (i === e) return this.end(); // a line of white space only ends the stanza
      if (key !== undefined) {
        let j = e;
        while (t.charCodeAt(j - 1) === SP || t.charCodeAt(j - 1) === TAB) j--;
        this.cur![key.name] += `\n${this.value(t, i, j, key.ascii)}`;
      }
      return;
    }
    this.key = undefined;
    if (c === HASH) return; // comment line (dpkg status and deb822 sources have them; tolerated anywhere)
    const colon = t.indexOf(':', s);
    if (colon < 0 || colon >= e || colon === s) return;
    const raw = t.slice(s, colon);
    let k = this.keys.get(raw);
    if (k === undefined) {
      const lower = raw.trimEnd().toLowerCase();
      k = this.fields.has(lower) ? { name: lower, ascii: ASCII_FIELDS.has(lower) } : null;
      this.keys.set(raw, k);
    }
    this.cur ??= {};
    if (k === null) return;
    let i = colon + 1;
    while (i < e && (t.charCodeAt(i) === SP || t.charCodeAt(i) === TAB)) i++;
    let j = e;
    while (j > i && (t.charCodeAt(j - 1) === SP || t.charCodeAt(j - 1) === TAB)) j--;
    this.cur[k.name] = this.value(t, i, j, k.ascii);
    this.key = k;
  }

  feed(chunk: Chunk): void {
    const buf =
      typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let o = 0; o < buf.length; o += PIECE) this.piece(buf.subarray(o, Math.min(o + PIECE, buf.length)));
  }

  private piece(buf: Buffer): void {
    const str = buf.toString('latin1');
    const t = this.carry ? this.carry + str : str;
    this.bytes = buf;
    this.off = this.carry.length;
    let pos = 0;
    for (;;) {
      const nl = t.indexOf('\n', pos);
      if (nl < 0) break;
      this.line(t, pos, nl);
      pos = nl + 1;
    }
    this.carry = pos < t.length ? t.slice(pos) : '';
  }

  finish(): void {
    this.bytes = Buffer.from(this.carry, 'latin1');
    this.off = 0;
    if (this.carry) this.line(this.carry, 0, this.carry.length);
    this.carry = '';
    this.end();
  }
}

/**
 * Reads deb822 stanzas (Packages files, dpkg status) from chunks cut anywhere (a gunzip stream, a file),
 * calling `onStanza` with only the `fields` asked for: lower-case names, matched case-insensitively as
 * Debian Policy §5.1 says; keys come back lower-case. Continuation lines (leading space or tab) are joined to
 * the value with "\n"; `#` comment lines are skipped; CRLF line ends are accepted; a line of only white space
 * ends a stanza like an empty one. Memory-lean: each chunk is read once as latin1 and only its unfinished
 * last line is carried to the next (the input never becomes one string); only the values kept are cut out,
 * and UTF-8 ones decoded.
 */
export async function readStanzas(chunks: Chunks, fields: ReadonlySet<string>, onStanza: (s: Record<string, string>) => void): Promise<void> {
  const reader = new StanzaReader(fields, onStanza);
  for await (const chunk of chunks) reader.feed(chunk);
  reader.finish();
}

/** The same stanzas as an async iterator, yielded as each chunk is read. */
export async function* parseStanzas(chunks: Chunks, fields: ReadonlySet<string>): AsyncGenerator<Record<string, string>> {
  const ready: Record<string, string>[] = [];
  const reader = new StanzaReader(fields, (s) => ready.push(s));
  for await (const chunk of chunks) {
    reader.feed(chunk);
    yield* ready.splice(0);
  }
  reader.finish();
  yield* ready.splice(0);
}

/** The stanza reader's own code: what a kept parse was made with (universe-cache.ts names its files by it). */
export function stanzaCode(): string {
  return [StanzaReader, readStanzas, [...PACKAGE_FIELDS], [...ASCII_FIELDS]].map(String).join('\n');
}
