import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashPool, hashHere, wholeFile } from '../src/bundle/hashpool.js';
import { tempDir } from './helpers/tmp.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('hashing honours the abort signal (Ctrl-C)', () => {
  it('the main thread hashes a file in slices, the same digest as one pass, and stops between slices', async () => {
    const dir = await tempDir();
    const data = randomBytes(20 << 20); // three 8 MiB slices
    const file = join(dir, 'big');
    await writeFile(file, data);
    const job = wholeFile(file, data.length);
    // A short read (the file is shorter than listed) gives the digest of what is there, as a worker does.
    expect(await hashHere([job, wholeFile(file, data.length + 10)])).toEqual([
      { hex: sha(data), read: data.length },
      { hex: sha(data), read: data.length },
    ]);
    const ac = new AbortController();
    setImmediate(() => ac.abort());
    await expect(hashHere([job], { signal: ac.signal })).rejects.toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
  });

  it('an abort terminates the workers at once and rejects, instead of hashing every job', async () => {
    const dir = await tempDir();
    const jobs = [];
    for (let i = 0; i < 40; i++) {
      const f = join(dir, `f${i}`);
      await writeFile(f, randomBytes(1 << 20));
      jobs.push(wholeFile(f, 1 << 20));
    }
    const pool = new HashPool(2);
    const ac = new AbortController();
    let done = 0;
    const run = pool.hash(jobs, {
      signal: ac.signal,
      onDone: () => {
        if (++done === 1) ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'INTERRUPTED', message: 'interrupted' });
    expect(done).toBeLessThan(jobs.length);
    // The workers are gone: nothing is left running in the background.
    await expect(pool.hash(jobs.slice(0, 1))).rejects.toThrow(/were stopped/);
    await pool.close();
  });
});
