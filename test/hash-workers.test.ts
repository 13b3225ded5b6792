import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileHashers } from '../src/bundle/hash-workers.js';
import { POOL_MIN_BYTES } from '../src/bundle/hashpool.js';
import { tempDir } from './helpers/tmp.js';

/** A file of `size` bytes, mostly a hole, with `tag` written at its start: distinct digests, no 64 MiB written. */
async function sparse(path: string, size: number, tag: string): Promise<string> {
  await truncate(await writeFile(path, tag).then(() => path), size);
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe("a build's copies share their hashing workers (FileHashers)", () => {
  it('hashes big files from concurrent callers on at most `max` workers, small ones here, each digest right', async () => {
    const dir = await tempDir();
    const big = POOL_MIN_BYTES + 4096;
    const files = await Promise.all(['a', 'b', 'c'].map(async (t) => ({ path: join(dir, t), want: await sparse(join(dir, t), big, t) })));
    const small = { path: join(dir, 's'), want: await sparse(join(dir, 's'), 1000, 's') };
    const hashers = new FileHashers(1);
    try {
      const signal = new AbortController().signal;
      const got = await Promise.all([...files, small].map((f) => hashers.hash(f.path, f === small ? 1000 : big, signal)));
      expect(got).toEqual([...files, small].map((f) => f.want));
      // The one worker stays for the next file; a short file gives the digest of what is there (as a worker of HashPool),
      // a missing one is a local error naming it.
      expect(await hashers.hash(small.path, big, signal)).toBe(small.want);
      await expect(hashers.hash(join(dir, 'missing'), big, signal)).rejects.toMatchObject({ subject: join(dir, 'missing') });
      expect(await hashers.hash(files[0]!.path, big, signal)).toBe(files[0]!.want);
    } finally {
      await hashers.close();
    }
  });

  it('an abort rejects at once with INTERRUPTED; a closed set refuses more', async () => {
    const dir = await tempDir();
    const big = POOL_MIN_BYTES * 4;
    await sparse(join(dir, 'a'), big, 'a');
    const hashers = new FileHashers(2);
    const ac = new AbortController();
    const run = hashers.hash(join(dir, 'a'), big, ac.signal);
    setImmediate(() => ac.abort());
    await expect(run).rejects.toMatchObject({ code: 'INTERRUPTED' });
    await hashers.close();
    await expect(hashers.hash(join(dir, 'a'), big, new AbortController().signal)).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });
});
