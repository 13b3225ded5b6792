import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { ChunkReader, stopChild } from './chunk-reader.js';
import { onPath } from './deb-native.js';

/**
 * An .xz member made of several independent blocks (xz -T, as dpkg-deb writes large data.tar.xz members: 24 MiB
 * of tar a block), read from any block on: the stream's index (at its end) gives each block's compressed and
 * uncompressed offsets, and blocks k..n are decoded by the host's `xz -dc` from a stream made of a new stream
 * header, those blocks' bytes as they are in the file, and an index of just those blocks. A tar reader that knows
 * where its next header is (deb-blocks.ts) then skips the blocks that hold only a big file's middle: libLLVM-15.so
 * is 117 MB of libllvm15's 117.4 MB data.tar, before its copyright file.
 * Spec: https://tukaani.org/xz/xz-file-format.txt (1.2.0), sections 2 (stream), 3 (block), 4 (index).
 */
export interface XzBlocks {
  file: string;
  /** Where the member starts in the file. */
  start: number;
  /** The stream flags (check type), as in the stream header and footer. */
  flags: Buffer;
  /** Per block: offset of its header from the member's start, its unpadded size, its first byte's uncompressed offset and its uncompressed size. */
  blocks: { at: number; unpadded: number; from: number; size: number }[];
  /** Where the index starts (from the member's start). */
  indexAt: number;
}

const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const FOOTER_MAGIC = 'YZ';

/** A multibyte integer of the format (7 bits a byte, low first, at most 9 bytes): [value, next offset], or undefined. */
function varint(b: Buffer, at: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 9 && at + i < b.length; i++) {
    const byte = b[at + i]!;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return Number.isSafeInteger(v) ? [v, at + i + 1] : undefined;
  }
  return undefined;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  do {
    const low = n % 128;
    n = Math.floor(n / 128);
    out.push(n > 0 ? low | 0x80 : low);
  } while (n > 0);
  return Buffer.from(out);
}

/**
 * The blocks of the .xz member (`size` bytes from `start`), when it is one stream with no padding after it, its
 * header, footer and index intact (magic, CRC32s, sizes adding up to the member), else undefined.
 */
export async function xzBlocks(file: string, start: number, size: number): Promise<XzBlocks | undefined> {
  if (size < 32) return undefined;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(12);
    const foot = Buffer.alloc(12);
    await fh.read(head, 0, 12, start);
    await fh.read(foot, 0, 12, start + size - 12);
    const flags = head.subarray(6, 8);
    if (!head.subarray(0, 6).equals(HEADER_MAGIC) || crc32(flags) !== head.readUInt32LE(8)) return undefined;
    if (foot.subarray(10, 12).toString('latin1') !== FOOTER_MAGIC || !foot.subarray(8, 10).equals(flags)) return undefined;
    if (crc32(foot.subarray(4, 10)) !== foot.readUInt32LE(0)) return undefined;
    const indexSize = (foot.readUInt32LE(4) + 1) * 4;
    const indexAt = size - 12 - indexSize;
    if (indexAt < 12 || indexSize > 1 << 20) return undefined;
    const index = Buffer.alloc(indexSize);
    await fh.read(index, 0, indexSize, start + indexAt);
    if (index[0] !== 0 || crc32(index.subarray(0, indexSize - 4)) !== index.readUInt32LE(indexSize - 4)) return undefined;
    const r = varint(index, 1);
    if (!r) return undefined;
    const count = r[0];
    let pos = r[1];
    const blocks: XzBlocks['blocks'] = [];
    let at = 12;
    let from = 0;
    for (let i = 0; i < count; i++) {
      const u = varint(index, pos);
      const s = u && varint(index, u[1]);
      if (!u || !s || u[0] < 5) return undefined;
      blocks.push({ at, unpadded: u[0], from, size: s[0] });
      at += Math.ceil(u[0] / 4) * 4;
      from += s[0];
      pos = s[1];
    }
    if (at !== indexAt || pos > indexSize - 4) return undefined;
    return { file, start, flags: Buffer.from(flags), blocks, indexAt };
  } finally {
    await fh.close();
  }
}

/** The block holding uncompressed offset `at` (the last one for an offset past the end). */
export function blockOf(x: XzBlocks, at: number): number {
  let k = 0;
  while (k + 1 < x.blocks.length && x.blocks[k + 1]!.from <= at) k++;
  return k;
}

/** A stream of blocks k..n of `x`: new stream header, the blocks' bytes (read from the file), an index of them, a footer. */
function streamFrom(x: XzBlocks, k: number): Readable {
  const head = Buffer.concat([HEADER_MAGIC, x.flags, u32le(crc32(x.flags))]);
  const parts = [Buffer.from([0]), varintBytes(x.blocks.length - k)];
  for (const b of x.blocks.slice(k)) parts.push(varintBytes(b.unpadded), varintBytes(b.size));
  let index = Buffer.concat(parts);
  index = Buffer.concat([index, Buffer.alloc((4 - (index.length % 4)) % 4)]);
  index = Buffer.concat([index, u32le(crc32(index))]);
  const back = Buffer.concat([u32le(index.length / 4 - 1), x.flags]);
  const foot = Buffer.concat([u32le(crc32(back)), back, Buffer.from(FOOTER_MAGIC, 'latin1')]);
  const body = createReadStream(x.file, { start: x.start + x.blocks[k]!.at, end: x.start + x.indexAt - 1, highWaterMark: 1 << 16 });
  async function* all() {
    yield head;
    try {
      for await (const c of body) yield c as Buffer;
    } finally {
      body.destroy();
    }
    yield index;
    yield foot;
  }
  return Readable.from(all(), { objectMode: false });
}

/**
 * The uncompressed bytes of `x` from the start of block k on, decoded by the host's xz, read by exact counts.
 * Undefined when there is no xz on PATH.
 */
export function blockReader(x: XzBlocks, k: number): ChunkReader | undefined {
  const xz = onPath('xz');
  if (!xz) return undefined;
  const child = spawn(xz, ['-dc'], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'ignore'] });
  const input = streamFrom(x, k);
  // xz stopped early closes its input: that is no error of ours.
  child.stdin.on('error', () => input.destroy());
  input.on('error', () => child.stdin.destroy());
  input.pipe(child.stdin);
  child.on('error', () => undefined); // a failed start ends the output: reads come back short
  return new ChunkReader(child.stdout, x.blocks[k]!.from, () => stopChild(child, input));
}
