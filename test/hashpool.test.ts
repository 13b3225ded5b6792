import { createHash, randomBytes } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type HashJob, HashPool, MAX_THREADS, hashHere, hashTuning, wholeFile } from '../src/bundle/hashpool.js';
import { tempDir } from './helpers/tmp.js';

// The threads, even on a box whose sha256sum the pool would hand big files to (test/hash-procs.test.ts).
beforeEach(() => {
  vi.stubEnv('VAULT_HASHER', 'threads');
  return () => vi.unstubAllEnvs();
});

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

describe('hashing reports progress when asked (a progress line at a terminal)', () => {
  it("a big file's bytes so far come from a hashing thread and from the main thread, then each file once, as it finishes", async () => {
    const dir = await tempDir();
    const big = join(dir, 'big');
    await writeFile(big, '');
    await truncate(big, 80 << 20); // sparse: cheap to make, read at full speed
    const small = join(dir, 'small');
    await writeFile(small, randomBytes(1000));
    const jobs = [wholeFile(big, 80 << 20), wholeFile(small, 1000)];
    for (const run of ['pool', 'here'] as const) {
      const ticks: number[] = [];
      const done: number[] = [];
      const o = { onBytes: (j: HashJob, n: number) => j === jobs[0] && ticks.push(n), onDone: (j: HashJob) => done.push(jobs.indexOf(j)) };
      const pool = run === 'pool' ? new HashPool(2) : undefined;
      const r = pool ? await pool.hash(jobs, o) : await hashHere(jobs, o);
      await pool?.close();
      expect(r.map((x) => x.read)).toEqual([80 << 20, 1000]);
      // Rising, never past the whole, at least one on the way.
      expect({ run, rising: ticks.every((n, i) => i === 0 || n > ticks[i - 1]!), max: Math.max(...ticks) <= 80 << 20 }).toEqual({
        run,
        rising: true,
        max: true,
      });
      expect(ticks.length).toBeGreaterThan(0);
      expect(done.sort()).toEqual([0, 1]);
    }
  });
});

describe('the pool: the main thread hashes beside the workers, every variant of the bench knobs gives the same digests', () => {
  it('mixed sizes, a short file and a missing one, for each tuning the bench tries', async () => {
    const dir = await tempDir();
    const jobs: HashJob[] = [];
    const want: { hex: string; read: number; error?: string }[] = [];
    for (let i = 0; i < 24; i++) {
      const data = randomBytes(i % 5 === 0 ? (3 << 20) + i : 1000 * i);
      const f = join(dir, `f${i}`);
      await writeFile(f, data);
      jobs.push(wholeFile(f, data.length + (i === 7 ? 5 : 0))); // f7 is shorter than listed: the digest of what is there
      want.push({ hex: sha(data), read: data.length });
    }
    jobs.push(wholeFile(join(dir, 'gone'), 10));
    for (const env of [
      {},
      { VAULT_HASH_MAIN: '0' },
      { VAULT_HASH_ORDER: 'listed' },
      { VAULT_HASH_READ_KIB: '4' },
      { VAULT_HASH_READ_KIB: '1024', VAULT_HASH_MAX_THREADS: '2' },
      { VAULT_HASH_RETIRE: '0' },
    ]) {
      const pool = new HashPool(3, undefined, hashTuning(env));
      const done: number[] = [];
      try {
        const r = await pool.hash(jobs, { onDone: (j) => done.push(jobs.indexOf(j)) });
        expect({ env, r: r.slice(0, -1) }).toEqual({ env, r: want });
        expect(r.at(-1)).toMatchObject({ hex: '', read: 0, error: expect.stringContaining('ENOENT') });
        expect(done.sort((a, b) => a - b)).toEqual(jobs.map((_, i) => i));
      } finally {
        await pool.close();
      }
    }
  });

  it('retires each worker once the queue has nothing for it, starts them again for a later call, and keeps them with VAULT_HASH_RETIRE=0', async () => {
    const dir = await tempDir();
    const jobs: HashJob[] = [];
    const want: string[] = [];
    for (let i = 0; i < 12; i++) {
      const data = randomBytes((1 << 20) + i);
      await writeFile(join(dir, `f${i}`), data);
      jobs.push(wholeFile(join(dir, `f${i}`), data.length));
      want.push(sha(data));
    }
    const workers = (p: HashPool) => (p as unknown as { workers: unknown[] }).workers.length;
    for (const [env, left] of [
      [{}, 0],
      [{ VAULT_HASH_RETIRE: '0' }, 3],
    ] as const) {
      const pool = new HashPool(4, undefined, hashTuning(env));
      try {
        expect(workers(pool)).toBe(3);
        expect((await pool.hash(jobs)).map((r) => r.hex)).toEqual(want);
        expect({ env, left: workers(pool) }).toEqual({ env, left });
        expect((await pool.hash(jobs.slice(0, 2))).map((r) => r.hex)).toEqual(want.slice(0, 2)); // two jobs: two workers again (retired after), or the three kept
        expect({ env, left: workers(pool) }).toEqual({ env, left });
        expect(pool.hashers).toBe(4);
      } finally {
        await pool.close();
      }
    }
  });

  it('reads its knobs from the environment, and a value that does not parse leaves the default', () => {
    expect(hashTuning({})).toEqual({ readBytes: 128 * 1024, maxThreads: MAX_THREADS, order: 'largest', mainHashes: true, workerOldMb: 16, retire: true });
    expect(
      hashTuning({
        VAULT_HASH_READ_KIB: '1024',
        VAULT_HASH_MAX_THREADS: '12',
        VAULT_HASH_ORDER: 'listed',
        VAULT_HASH_MAIN: '0',
        VAULT_HASH_OLD_MB: '8',
        VAULT_HASH_RETIRE: '0',
      }),
    ).toEqual({
      readBytes: 1 << 20,
      maxThreads: 12,
      order: 'listed',
      mainHashes: false,
      workerOldMb: 8,
      retire: false,
    });
    expect(hashTuning({ VAULT_HASH_READ_KIB: '1e3', VAULT_HASH_MAX_THREADS: '0', VAULT_HASH_OLD_MB: 'x' })).toEqual(hashTuning({}));
  });
});
