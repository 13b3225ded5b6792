import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InterruptedError, localWriteError } from '../util/errors.js';
import { makeDirs, tempDone, tempSibling, walk, writeFileAtomic } from '../util/fs.js';
import { checkOutput, placeBlob, swapInto } from './assemble.js';
import { BLOBS_DIR, PARTS, SUMS } from './layout.js';
import { formatSums, parseSums } from './sums.js';
import { writeParts } from './parts.js';
import { deterministicTarStream } from './tar.js';

export type Media = 'dir' | 'tar' | 'fat32';

/** FAT32's largest file is 4 GiB - 1 byte; parts stay a little under it. */
export const FAT32_PART_SIZE = 4 * 1024 ** 3 - 1024 ** 2;

/**
 * Rewrites a bundle folder for media that hold no file of 4 GiB or more and no symlink (FAT32): every small
 * file stays as it is (bundle.json, SHA256SUMS, the SBOM, the carried runtime and ./verify, so the stick is
 * readable and runnable as is), and the blobs go into one deterministic tar cut into numbered parts, with
 * parts.json (order, size and sha256 of each part and of the whole). Written beside `out`, then renamed in.
 */
export async function writeSplitBundle(
  dir: string,
  out: string,
  o: { name: string; version: string; partSize: number; mtime: Date; signal?: AbortSignal },
): Promise<{ parts: number; bytes: number }> {
  await checkOutput(out);
  const stage = tempSibling(out);
  try {
    const all = await walk(dir);
    const blobs = all.filter((e) => e.kind === 'file' && e.path.startsWith(`${BLOBS_DIR}/`)).map((e) => e.path);
    await makeDirs(stage);
    for (const e of all) {
      if (o.signal?.aborted) throw new InterruptedError();
      if (e.kind !== 'file' || e.path.startsWith(`${BLOBS_DIR}/`)) continue;
      await mkdir(dirname(join(stage, e.path)), { recursive: true });
      await placeBlob(join(dir, e.path), join(stage, e.path));
    }
    await mkdir(stage, { recursive: true });
    const manifest = await writeParts(deterministicTarStream(dir, blobs, o.mtime, o.signal), stage, o);
    if (o.signal?.aborted) throw new InterruptedError();
    const partsText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFileAtomic(join(stage, PARTS), partsText);
    // parts.json is written after the tar it describes and listed in SHA256SUMS (signed after this), so the
    // order, sizes and hashes of the parts are covered like every other file.
    const sums = parseSums(await readFile(join(stage, SUMS), 'utf8'));
    sums.set(PARTS, createHash('sha256').update(partsText).digest('hex'));
    await writeFileAtomic(join(stage, SUMS), formatSums([...sums].map(([path, hex]) => ({ path, hex }))));
    await swapInto(stage, out);
    tempDone(stage);
    return { parts: manifest.parts.length, bytes: manifest.whole.size };
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    tempDone(stage);
    throw localWriteError(err, out);
  }
}
