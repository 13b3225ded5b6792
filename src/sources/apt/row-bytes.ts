// The byte encoding of a universe's rows (universe.ts): each text a varint length, then its UTF-8 bytes.

/** Rows of a universe apart from it (universe-cache.ts): bytes, where each row starts, and the per-row ids. */
export interface UniverseSegment {
  /** The rows' bytes, back to back. */
  rows: Buffer;
  /** Where each row starts in `rows`, and one more: rows.length. */
  starts: Uint32Array;
  /** Per row: its architecture (an index into `archs`), then its flags (Multi-Arch, Essential, Important, Provides). */
  small: Uint16Array;
  names: string[];
  archs: string[];
}

/** A segment to be kept: its rows' bytes come a MiB at a time (Debian's main: 21 MB), not as one buffer. */
export interface SegmentOut extends Omit<UniverseSegment, 'rows'> {
  rowBytes: number;
  /** One buffer refilled: each chunk is valid until the next is asked for. */
  rowChunks(): Iterable<Buffer>;
}

export function writeVarint(buf: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

/** Where a text starts and how long it is (a varint length before it). */
export function span(buf: Buffer, p: number): { start: number; end: number } {
  let n = 0;
  let shift = 0;
  for (;;) {
    const b = buf[p++];
    if (b === undefined || shift > 49) throw new RangeError('a text runs past its row'); // a kept segment read back
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { start: p, end: p + n };
    shift += 7;
  }
}

export function readText(buf: Buffer, p: number): { text: string; next: number } {
  const { start, end } = span(buf, p);
  return { text: buf.toString('utf8', start, end), next: end };
}
