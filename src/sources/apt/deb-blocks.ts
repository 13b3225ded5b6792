import { createHash } from 'node:crypto';
import type { ChunkReader } from './chunk-reader.js';
import { type XzBlocks, blockOf, blockReader, xzBlocks } from './xz-blocks.js';

/**
 * The copyright file (or the doc folder's link) of a .deb whose data.tar.xz has several xz blocks, reading only
 * the blocks that hold tar headers and the file itself: the tar is walked header by header, and when the next
 * header lies in a later block than the one being decoded (a big file's middle in between), decoding starts
 * again at that block (xz-blocks.ts). nvidia-debian12: libllvm15 (5 blocks, the copyright after a 117 MB .so)
 * and libicu72 (2 blocks) were 48 % of the bytes decompressed for its licences.
 *
 * It answers only when it finds the file or link, from archives it reads exactly as node-tar does (deb-doc.ts's
 * reader): plain ustar or GNU headers, GNU long names and long link names. Anything else (a PAX header, a
 * checksum or number it does not take, a body on a type that has none, the end of the archive, xz missing or
 * failing) is undefined, and the caller reads the whole stream as before. The same walker (walkTar) reads the
 * one stream of any other .deb for the lean read (deb-lean.ts).
 */

/** What it finds: the copyright file or the doc folder's link (deb-doc.ts's DebDoc of those kinds). */
export type FoundDoc = { kind: 'copyright'; path: string; sha256: string; text: string } | { kind: 'link'; path: string; target: string };

const BLOCK = 512;
/** A restart costs a process and at most a block decoded anew: not for less than this skipped. */
const RESTART_MIN_BYTES = 4 << 20;

interface Header {
  path: string;
  type: string;
  size: number;
  linkpath: string;
}

function str(b: Buffer, off: number, len: number): string {
  return b
    .subarray(off, off + len)
    .toString('utf8')
    .replace(/\0.*/, ''); // as node-tar's decString (no s flag: it stops at a newline)
}

/** An octal number field as node-tar reads it; undefined for base-256 or anything not octal. */
function octal(b: Buffer, off: number, len: number): number | undefined {
  if (b[off]! & 0x80) return undefined;
  const s = str(b, off, len).trim();
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : undefined;
}

/** The header at the start of `b`, as node-tar's Header decodes it (with a pending long name/link), or why not. */
function parseHeader(b: Buffer, long: { path?: string; linkpath?: string }): Header | 'null' | undefined {
  if (b.every((x) => x === 0)) return 'null';
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += b[i]!;
  if (octal(b, 148, 12) !== sum) return undefined;
  const t = str(b, 156, 1);
  const meta = t === 'L' || t === 'K';
  if (!meta && !['0', '', '1', '2', '3', '4', '5', '6', '7'].includes(t)) return undefined;
  let path = (!meta && long.path) || str(b, 0, 100);
  if (b.subarray(257, 265).toString('latin1') === 'ustar\u000000') {
    const prefix = b[475] !== 0 ? str(b, 345, 155) : str(b, 345, 130);
    if (prefix && !(!meta && long.path)) path = `${prefix}/${path}`;
  }
  let type = t || '0';
  let size = octal(b, 124, 12);
  if (size === undefined || !path) return undefined;
  if (type === '0' && path.endsWith('/')) type = '5';
  if (type === '5') size = 0;
  const field = str(b, 157, 100);
  const linkpath = (!meta && long.linkpath) || field;
  const isLink = type === '1' || type === '2';
  if (isLink ? !field : field) return undefined; // node-tar: "linkpath required" / "linkpath forbidden" (the header's own field)
  // Bodies only on files and the long-name entries (node-tar would read any other body as one: refuse those).
  if (size > 0 && !['0', '7', 'L', 'K'].includes(type)) return undefined;
  return { path, type, size, linkpath };
}

/** `./usr/share/doc/x` and `usr/share/doc/x` alike (deb-doc.ts's `plain`). */
function plain(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/** Reads `size` bytes of a found file: its sha256 and its first `maxText` bytes as text. */
async function body(r: ChunkReader, size: number, maxText: number): Promise<{ sha256: string; text: string } | undefined> {
  const h = createHash('sha256');
  const parts: Buffer[] = [];
  let kept = 0;
  for (let left = size; left > 0;) {
    const c = await r.read(Math.min(left, 1 << 20));
    if (!c) return undefined;
    h.update(c);
    if (kept < maxText) parts.push(Buffer.from(c.subarray(0, maxText - kept)));
    kept += c.length;
    left -= c.length;
  }
  return { sha256: h.digest('hex'), text: Buffer.concat(parts).toString('utf8') };
}

/**
 * Where the reader goes on to reach uncompressed offset `next`: the same reader, or another that starts nearer it
 * (the caller has stopped `r`), or undefined when it cannot.
 */
export type Jump = (r: ChunkReader, next: number) => Promise<ChunkReader | undefined>;

/**
 * Walks the tar that `first` reads, header by header, until `dir`'s link or the file `path` is read; undefined for
 * anything it does not read exactly as node-tar does (see above) or an archive without either. Stops the reader.
 */
export async function walkTar(first: ChunkReader, jump: Jump | undefined, dir: string, path: string, maxText: number): Promise<FoundDoc | undefined> {
  let r: ChunkReader | undefined = first;
  try {
    let next = 0;
    const long: { path?: string; linkpath?: string } = {};
    for (;;) {
      if (jump) r = await jump(r, next);
      if (!r || next < r.pos || !(await r.skip(next - r.pos))) return undefined;
      const b = await r.read(BLOCK);
      const h = b && parseHeader(b, long);
      if (!h || h === 'null') return undefined;
      next = r.pos + Math.ceil(h.size / BLOCK) * BLOCK;
      if (h.type === 'L' || h.type === 'K') {
        if (h.size > 1 << 16) return undefined;
        const name = await r.read(h.size);
        if (!name) return undefined;
        long[h.type === 'L' ? 'path' : 'linkpath'] = str(name, 0, name.length);
        continue;
      }
      delete long.path;
      delete long.linkpath;
      const p = plain(h.path);
      if (p === dir && h.type === '2') return { kind: 'link', path, target: h.linkpath };
      if (p === path && h.type === '0') {
        const f = await body(r, h.size, maxText);
        return f && { kind: 'copyright', path, ...f };
      }
    }
  } finally {
    await r?.stop();
  }
}

/** From a reader at block k to one at the block holding `next`, when that skips enough to pay for a new xz. */
function blockJump(x: XzBlocks): Jump {
  return async (r, next) => {
    const k = blockOf(x, next);
    if (k > blockOf(x, r.pos) && x.blocks[k]!.from - r.pos >= RESTART_MIN_BYTES) {
      await r.stop();
      return blockReader(x, k);
    }
    return r;
  };
}

/** The doc of `pkg` from the data.tar.xz member (`size` bytes from `start`) when it has several blocks; else undefined. */
export async function docByBlocks(file: string, m: { start: number; size: number }, dir: string, path: string, maxText: number): Promise<FoundDoc | undefined> {
  const x = await xzBlocks(file, m.start, m.size);
  if (!x || x.blocks.length < 2) return undefined;
  const r = blockReader(x, 0);
  return r && walkTar(r, blockJump(x), dir, path, maxText);
}
