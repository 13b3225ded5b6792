/** safetensors files: build one from tensors, read and check its header (the format transformers loads). */

export type SafetensorsDtype = string;

const DTYPE_SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the start of the data section (after the header). */
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (the little-endian u64 at the start of the file). */
  headerLength: number;
  /** Where the data section starts in the file: 8 + headerLength. */
  dataStart: number;
  /** `__metadata__` (string → string), if present. */
  metadata: Record<string, string> | undefined;
  /** Tensors by name, in the header's order. */
  tensors: Record<string, SafetensorsTensorInfo>;
}

/** One tensor to serialise; `data` is its raw little-endian bytes. */
export interface SafetensorsInput {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: Uint8Array;
}

/**
 * Serialises tensors in the safetensors format: u64 LE header length, JSON header (padded with spaces to a
 * multiple of 8, as the reference implementation does), then the tensors' bytes back to back in the given order.
 */
export function buildSafetensors(tensors: SafetensorsInput[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const size = DTYPE_SIZE[t.dtype];
    if (size === undefined) throw new Error(`unknown dtype ${t.dtype}`);
    const want = t.shape.reduce((a, b) => a * b, 1) * size;
    if (want !== t.data.byteLength) {
      throw new Error(`${t.name}: ${t.data.byteLength} bytes for shape [${t.shape.join(',')}] ${t.dtype} (want ${want})`);
    }
    if (t.name in header) throw new Error(`duplicate tensor ${t.name}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + off);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  for (const t of tensors) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Reads the header of a safetensors file. `buf` may be the whole file or only its start (at least
 * 8 + header length bytes). Throws on a malformed header (bad length, not a JSON object, a tensor entry
 * without dtype/shape/data_offsets, offsets that disagree with shape × dtype size).
 */
export function parseSafetensorsHeader(buf: Uint8Array): SafetensorsHeader {
  if (buf.byteLength < 8) throw new Error('safetensors: shorter than the 8-byte header length');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > 100_000_000n) throw new Error(`safetensors: header length ${n} is too large`);
  const headerLength = Number(n);
  if (8 + headerLength > buf.byteLength) {
    throw new Error(`safetensors: header length ${headerLength} runs past the ${buf.byteLength} bytes given`);
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset + 8, headerLength).toString('utf8');
  if (!text.startsWith('{')) throw new Error('safetensors: header does not start with "{"');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // eslint-disable-next-line preserve-caught-error -- the message already carries the cause's text; the thrown error stays as it was
    throw new Error(`safetensors: header is not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('safetensors: header is not an object');
  let metadata: Record<string, string> | undefined;
  const tensors: Record<string, SafetensorsTensorInfo> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('safetensors: bad __metadata__');
      for (const v of Object.values(value)) {
        if (typeof v !== 'string') throw new Error('safetensors: __metadata__ values must be strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as Partial<SafetensorsTensorInfo> | null;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.dtype !== 'string' ||
      !Array.isArray(e.shape) ||
      !e.shape.every((x) => Number.isInteger(x) && x >= 0) ||
      !Array.isArray(e.data_offsets) ||
      e.data_offsets.length !== 2 ||
      !e.data_offsets.every((x) => Number.isInteger(x) && x >= 0)
    ) {
      throw new Error(`safetensors: bad entry for tensor ${name}`);
    }
    const [b, en] = e.data_offsets;
    const size = DTYPE_SIZE[e.dtype];
    if (en < b) throw new Error(`safetensors: ${name}: data_offsets end before begin`);
    if (size !== undefined && en - b !== e.shape.reduce((a, c) => a * c, 1) * size) {
      throw new Error(`safetensors: ${name}: ${en - b} bytes do not match shape [${e.shape.join(',')}] ${e.dtype}`);
    }
    tensors[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [b, en] };
  }
  return { headerLength, dataStart: 8 + headerLength, metadata, tensors };
}

/**
 * What is wrong with a whole safetensors file, as the reference loader checks it: the tensors' byte ranges,
 * sorted, must start at 0, touch without gaps or overlaps, and end exactly at the end of the file. Empty = fine.
 */
export function safetensorsProblems(file: Uint8Array): string[] {
  let h: SafetensorsHeader;
  try {
    h = parseSafetensorsHeader(file);
  } catch (err) {
    return [(err as Error).message];
  }
  const problems: string[] = [];
  const ranges = Object.entries(h.tensors)
    .map(([name, t]) => ({ name, b: t.data_offsets[0], e: t.data_offsets[1] }))
    .sort((x, y) => x.b - y.b || x.e - y.e);
  let at = 0;
  for (const r of ranges) {
    if (r.b !== at) problems.push(`${r.name} starts at ${r.b}, expected ${at}`);
    at = Math.max(at, r.e);
  }
  const dataLen = file.byteLength - h.dataStart;
  if (at !== dataLen) problems.push(`tensors cover ${at} bytes, data section has ${dataLen}`);
  return problems;
}
