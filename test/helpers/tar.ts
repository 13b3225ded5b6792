import { readFile, writeFile } from 'node:fs/promises';

/** A ustar header block for hostile tars made in tests (type '0' file, '1' hard link, '3' device, '6' FIFO…). */
export function tarHeader(name: string, o: { type?: string; size?: number; linkname?: string; mode?: number } = {}): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s, at, Math.min(len, Buffer.byteLength(s)), 'utf8');
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(o.mode ?? 0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(o.size ?? 0, 12), 124, 12);
  put(oct(0, 12), 136, 12);
  h.fill(0x20, 148, 156);
  put(o.type ?? '0', 156, 1);
  put(o.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(oct(sum, 7) + ' ', 148, 8);
  return h;
}

/** A member: its header and its data padded to whole blocks. */
export function tarMember(name: string, data: Buffer | string = '', o: { type?: string; linkname?: string } = {}): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([tarHeader(name, { ...o, size: d.length }), d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
}

/** Offsets of each header in a tar (walking sizes), and where its end-of-archive marker starts. */
export function tarLayout(tar: Buffer): { headers: { at: number; name: string }[]; end: number } {
  const headers: { at: number; name: string }[] = [];
  let off = 0;
  while (off + 512 <= tar.length && !tar.subarray(off, off + 512).every((b) => b === 0)) {
    const h = tar.subarray(off, off + 512);
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    headers.push({ at: off, name });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return { headers, end: off };
}

/** Rewrites a tar file through `fn`. */
export async function editTar(file: string, fn: (tar: Buffer) => Buffer): Promise<void> {
  await writeFile(file, fn(await readFile(file)));
}
