import { open } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';

/**
 * Reads one member of a zip file (a wheel) without unpacking the rest: the end-of-central-directory record,
 * the central directory entry, then the local header (APPNOTE.TXT §4.3). Stored and deflated members only,
 * which is all a wheel uses (PEP 427).
 */
export async function readZipMember(file: string, match: (name: string) => boolean, maxBytes = 4 << 20): Promise<{ name: string; data: Buffer } | undefined> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const tailLen = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset + cdSize > size) throw new Error('zip central directory out of range');
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    let p = 0;
    for (let i = 0; i < entries && p + 46 <= cd.length; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error('bad zip central directory entry');
      const method = cd.readUInt16LE(p + 10);
      const compSize = cd.readUInt32LE(p + 20);
      const rawSize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const local = cd.readUInt32LE(p + 42);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      p += 46 + nameLen + extraLen + commentLen;
      if (!match(name)) continue;
      if (rawSize > maxBytes) throw new Error(`${name} is larger than ${maxBytes} bytes`);
      const lh = Buffer.alloc(30);
      await fh.read(lh, 0, 30, local);
      if (lh.readUInt32LE(0) !== 0x04034b50) throw new Error('bad zip local header');
      const dataAt = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      const comp = Buffer.alloc(compSize);
      await fh.read(comp, 0, compSize, dataAt);
      if (method === 0) return { name, data: comp };
      if (method === 8) return { name, data: inflateRawSync(comp, { maxOutputLength: maxBytes }) };
      throw new Error(`${name}: unsupported zip compression method ${method}`);
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The core metadata (`<name>.dist-info/METADATA`) of a wheel file. */
export async function wheelMetadata(file: string): Promise<string> {
  const m = await readZipMember(file, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n));
  if (!m) throw new Error('no .dist-info/METADATA in the wheel');
  return m.data.toString('utf8');
}

/** Fields of core metadata (RFC 822 style, Metadata 2.x): repeated fields become lists; the body is dropped. */
export function parseMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // the description body follows the first empty line
    if (/^\s/.test(line) && last) {
      const l = out.get(last)!;
      l[l.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    out.set(last, [...(out.get(last) ?? []), line.slice(i + 1).trim()]);
  }
  return out;
}
