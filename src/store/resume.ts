import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import { localWriteError } from '../util/errors.js';
import { BlobWriter } from './writer.js';

/**
 * How many bytes of an earlier attempt's partial file to keep, those bytes fed to `hash`: none when it is longer
 * than the blob; O_DIRECT writes start on a sector boundary, so the last partial sector (at most 4 KiB) goes.
 */
export async function resumeFrom(partial: string, expectSize: number, hash: Hash): Promise<number> {
  let have: number;
  try {
    have = (await stat(partial)).size;
  } catch {
    have = 0;
  }
  if (have > expectSize) {
    await rm(partial, { force: true });
    have = 0;
  }
  if (have > 0) {
    const at = BlobWriter.resumeOffset(have, expectSize - have);
    if (at !== have) {
      await truncate(partial, at).catch((err: unknown) => {
        throw localWriteError(err, partial);
      });
      have = at;
    }
  }
  if (have > 0) {
    for await (const chunk of createReadStream(partial, { highWaterMark: 1 << 20, end: have - 1 })) hash.update(chunk as Buffer);
  }
  return have;
}
