import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ManifestError } from '../../util/errors.js';

/**
 * sha256, size and git blob sha1 of a local file in one streamed pass (a model shard of 10 GB is never held in
 * memory). The git header needs the size first: taken from stat, and a file that changes while read is refused.
 */
export async function hashLocalFile(path: string, subject: string): Promise<{ sha256: string; size: number; gitOid: string }> {
  const expected = (await stat(path)).size;
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${expected}\0`);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  if (size !== expected) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${subject}: ${path} changed while it was read (${expected} bytes, then ${size})`,
      subject,
      hint: 'lock again once the model folder is no longer being written',
    });
  }
  return { sha256: sha256.digest('hex'), size, gitOid: sha1.digest('hex') };
}

export function gitBlobSha1(data: Uint8Array): string {
  return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}
