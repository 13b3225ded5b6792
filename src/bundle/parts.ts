import { createHash } from 'node:crypto';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError, localWriteError } from '../util/errors.js';
import { PARTS, PARTS_SCHEMA, partName } from './layout.js';

const hex = z.string().regex(/^[0-9a-f]{64}$/);

export const partsManifestSchema = z.strictObject({
  schema: z.literal(PARTS_SCHEMA),
  name: z.string(),
  version: z.string(),
  /** The largest part, in bytes (the last one may be smaller). */
  partSize: z.int().positive(),
  /** The whole tar, as if the parts were joined in order. */
  whole: z.strictObject({ size: z.int().nonnegative(), sha256: hex }),
  parts: z.array(z.strictObject({ file: z.string().regex(/^blobs\.tar\.\d{4}$/), size: z.int().nonnegative(), sha256: hex })).min(1),
});

export type PartsManifest = z.infer<typeof partsManifestSchema>;

export async function readPartsManifest(root: string): Promise<PartsManifest> {
  const file = join(root, PARTS);
  const bad = (why: string) =>
    new IntegrityError({
      code: 'BAD_PARTS',
      message: `${file}: ${why}`,
      subject: file,
      hint: 'parts.json was damaged or edited; copy the split bundle again from its source',
    });
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw bad(`not readable JSON (${(err as Error).message})`);
  }
  const r = partsManifestSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw bad(`${i.path.join('.') || '(top)'}: ${i.message}`);
  }
  // What writeParts makes: parts numbered from 1 in order, each of partSize bytes but the last, adding up to
  // the whole. Anything else was edited (a part appended, renamed or resized) and is not read.
  const m = r.data;
  let total = 0;
  for (const [i, part] of m.parts.entries()) {
    if (part.file !== partName(i + 1)) throw bad(`parts[${i}] is ${part.file}, expected ${partName(i + 1)}`);
    const last = i === m.parts.length - 1;
    if (last ? part.size > m.partSize : part.size !== m.partSize) {
      throw bad(
        `${part.file} (part ${i + 1} of ${m.parts.length}) is listed with ${part.size} bytes; ${last ? 'the last part has at most' : 'every part but the last has'} partSize (${m.partSize})`,
      );
    }
    total += part.size;
  }
  if (total !== m.whole.size) throw bad(`the parts add up to ${total} bytes, whole.size says ${m.whole.size}`);
  return m;
}

/**
 * Cuts a byte stream into numbered part files of at most `partSize` bytes in `dir`, hashing each part and the
 * whole as the bytes pass (one read of the data, no second pass). Each part is fsynced before the next starts.
 */
export async function writeParts(
  chunks: AsyncIterable<Uint8Array>,
  dir: string,
  meta: { name: string; version: string; partSize: number },
): Promise<PartsManifest> {
  const whole = createHash('sha256');
  const parts: PartsManifest['parts'] = [];
  let total = 0;
  let fh: FileHandle | undefined;
  let hash = createHash('sha256');
  let inPart = 0;
  const close = async () => {
    if (!fh) return;
    await fh.sync();
    await fh.close();
    fh = undefined;
    parts.push({ file: partName(parts.length + 1), size: inPart, sha256: hash.digest('hex') });
  };
  const file = () => join(dir, partName(parts.length + 1));
  try {
    for await (const chunk of chunks) {
      let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      whole.update(buf);
      total += buf.length;
      while (buf.length > 0) {
        if (!fh) {
          fh = await open(file(), 'wx', 0o644);
          hash = createHash('sha256');
          inPart = 0;
        }
        const n = Math.min(buf.length, meta.partSize - inPart);
        const piece = buf.subarray(0, n);
        await fh.write(piece);
        hash.update(piece);
        inPart += n;
        buf = buf.subarray(n);
        if (inPart === meta.partSize) await close();
      }
    }
    await close();
  } catch (err) {
    await fh?.close().catch(() => undefined);
    throw localWriteError(err, file());
  }
  if (parts.length === 0) {
    fh = await open(file(), 'wx', 0o644).catch((err: unknown) => {
      throw localWriteError(err, file());
    });
    await close();
  }
  return {
    schema: PARTS_SCHEMA,
    name: meta.name,
    version: meta.version,
    partSize: meta.partSize,
    whole: { size: total, sha256: whole.digest('hex') },
    parts,
  };
}
