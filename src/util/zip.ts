import { type FileHandle, open } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

/** A member as the central directory lists it. */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

/**
 * A zip file read in place (APPNOTE.TXT §4.3): the central directory is read once, members on demand. Stored
 * and deflated members (all that wheels and OSV exports use), zip64 archives (more than 65,535 members or
 * offsets past 4 GiB) included.
 */
export class ZipFile {
  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    readonly entries: ZipEntry[],
    private readonly base: number,
  ) {}

  /** `window`: the zip is the bytes [offset, offset + length) of `file` (a wheel inside a tar bundle), not all of it. */
  static async open(file: string, window?: { offset: number; length: number }): Promise<ZipFile> {
    const fh = await open(file, 'r');
    try {
      const base = window?.offset ?? 0;
      const size = window?.length ?? (await fh.stat()).size;
      return new ZipFile(fh, size, await centralDirectory(fh, base, size), base);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** A member's bytes, inflated; refuses one larger than `maxBytes`. */
  async read(e: ZipEntry, maxBytes: number): Promise<Buffer> {
    if (e.size > maxBytes) throw new Error(`${e.name} is larger than ${maxBytes} bytes`);
    const lh = Buffer.alloc(30);
    await this.fh.read(lh, 0, 30, this.base + e.localHeader);
    if (lh.readUInt32LE(0) !== LOCAL) throw new Error(`${e.name}: bad zip local header`);
    const dataAt = e.localHeader + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    // Sizes come from the archive: bound them before allocating (a crafted 4 GB one would abort the process).
    if (e.compressedSize > maxBytes || dataAt + e.compressedSize > this.size)
      throw new Error(`${e.name}: its compressed size does not fit the archive or the limit`);
    const comp = Buffer.alloc(e.compressedSize);
    await this.fh.read(comp, 0, e.compressedSize, this.base + dataAt);
    if (e.method === 0) return comp;
    if (e.method === 8) return inflateRawSync(comp, { maxOutputLength: maxBytes });
    throw new Error(`${e.name}: unsupported zip compression method ${e.method}`);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

async function centralDirectory(fh: FileHandle, base: number, size: number): Promise<ZipEntry[]> {
  const tailLen = Math.min(size, 65_557);
  const tail = Buffer.alloc(tailLen);
  await fh.read(tail, 0, tailLen, base + size - tailLen);
  const at = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (at < 0 || tail.readUInt32LE(at) !== EOCD) throw new Error('not a zip file (no end of central directory)');
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  // zip64: the classic record holds 0xFFFF/0xFFFFFFFF and a locator just before it points at the real one.
  if (at >= 20 && tail.readUInt32LE(at - 20) === EOCD64_LOCATOR) {
    const rec = Buffer.alloc(56);
    await fh.read(rec, 0, 56, base + Number(tail.readBigUInt64LE(at - 20 + 8)));
    if (rec.readUInt32LE(0) !== EOCD64) throw new Error('bad zip64 end of central directory');
    count = Number(rec.readBigUInt64LE(32));
    cdSize = Number(rec.readBigUInt64LE(40));
    cdOffset = Number(rec.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw new Error('zip central directory out of range');
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, base + cdOffset);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count && p + 46 <= cd.length; i++) {
    if (cd.readUInt32LE(p) !== CENTRAL) throw new Error('bad zip central directory entry');
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const e: ZipEntry = {
      name: cd.subarray(p + 46, p + 46 + nameLen).toString('utf8'),
      method: cd.readUInt16LE(p + 10),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localHeader: cd.readUInt32LE(p + 42),
    };
    zip64Extra(e, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    out.push(e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The zip64 extra field (id 1) carries, in this order, whichever of the three values is 0xFFFFFFFF. */
function zip64Extra(e: ZipEntry, extra: Buffer): void {
  if (e.size !== MAX32 && e.compressedSize !== MAX32 && e.localHeader !== MAX32) return;
  for (let q = 0; q + 4 <= extra.length;) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 1) {
      let r = q + 4;
      const next = () => {
        const v = Number(extra.readBigUInt64LE(r));
        r += 8;
        return v;
      };
      if (e.size === MAX32) e.size = next();
      if (e.compressedSize === MAX32) e.compressedSize = next();
      if (e.localHeader === MAX32) e.localHeader = next();
      return;
    }
    q += 4 + len;
  }
  throw new Error(`${e.name}: zip64 sizes without a zip64 extra field`);
}

/** One member matching `match`, or undefined (a wheel's METADATA, say). */
export async function readZipMember(
  file: string,
  match: (name: string) => boolean,
  maxBytes = 4 << 20,
  window?: { offset: number; length: number },
): Promise<{ name: string; data: Buffer } | undefined> {
  const zip = await ZipFile.open(file, window);
  try {
    const e = zip.entries.find((x) => match(x.name));
    return e ? { name: e.name, data: await zip.read(e, maxBytes) } : undefined;
  } finally {
    await zip.close();
  }
}
