import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HashPool, hashHere, wholeFile } from '../src/bundle/hashpool.js';
import { EARLY_MAX_FILES, type EarlyHashing, fileStamp, startEarlyHashing, takeEarlyHashing } from '../src/util/early-hash.js';
import { hostRuntimeBundle } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Early hashing (src/util/early-hash.ts): boot.cjs starts `verify <folder>`'s hashing threads on what SHA256SUMS
 * lists before the CLI loads; verify's pool takes them over and uses an early digest only for the very same file
 * and size. Verify's verdict must be the one it gives without them, damage included.
 */
const MiB = 1024 * 1024;
// None of the bench's VAULT_HASH_* knobs; threads, even on a box whose sha256sum would be used (test/hash-procs.test.ts).
const ENV = { PATH: '/usr/bin:/bin', VAULT_HASHER: 'threads' };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A folder whose SHA256SUMS lists `files` (name → bytes or a sparse size) and the odd entries early hashing must pass over. */
async function listed(files: Record<string, Buffer | number>, extra: string[] = []): Promise<string> {
  const dir = await tempDir('vb-early');
  const lines: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    const file = join(dir, name);
    await mkdir(join(file, '..'), { recursive: true });
    if (typeof content === 'number') {
      await writeFile(file, '');
      await truncate(file, content); // sparse: big and cheap
      lines.push(`${'0'.repeat(64)}  ${name}`);
    } else {
      await writeFile(file, content);
      lines.push(`${sha(content)}  ${name}`);
    }
  }
  await writeFile(join(dir, 'SHA256SUMS'), [...lines, ...extra].join('\n') + '\n');
  return dir;
}

/** A whole file as verify's listing makes its job: with its stamp. */
async function listedJob(file: string) {
  const st = await stat(file);
  return { ...wholeFile(file, st.size), stamp: fileStamp(st) };
}

function take(): EarlyHashing {
  const s = takeEarlyHashing();
  expect(s).toBeDefined();
  return s!;
}

beforeEach(() => {
  vi.stubEnv('VAULT_HASHER', 'threads');
});

afterEach(async () => {
  vi.unstubAllEnvs();
  const s = takeEarlyHashing(); // a test that failed half-way leaves none running for the next
  await Promise.all((s?.workers ?? []).map((w) => w.terminate()));
});

describe('early hashing: what boot.cjs starts', () => {
  it('lists only regular files inside the folder, largest first, and starts threads for `verify <folder>`', async () => {
    const outside = await tempDir('vb-early-out');
    await writeFile(join(outside, 'secret'), 'not in the bundle');
    const dir = await listed({ 'blobs/a': 40 * MiB, 'blobs/b': 30 * MiB, small: randomBytes(10) }, [
      `${'1'.repeat(64)}  ../escape`,
      `${'2'.repeat(64)}  /etc/passwd`,
      `${'3'.repeat(64)}  link`,
      `${'4'.repeat(64)}  fifo`,
      `\\${'5'.repeat(64)}  esc\\\\aped`,
      `${'6'.repeat(64)}  missing`,
    ]);
    await symlink(join(outside, 'secret'), join(dir, 'link'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    startEarlyHashing(['-q', '--cache-dir', '/x', 'verify', '--threads', '3', dir], ENV);
    const s = take();
    expect(s.jobs.map(({ file, size }) => ({ file, size }))).toEqual([
      { file: join(dir, 'blobs/a'), size: 40 * MiB },
      { file: join(dir, 'blobs/b'), size: 30 * MiB },
      { file: join(dir, 'small'), size: 10 },
    ]);
    expect(s.workers).toHaveLength(2); // --threads 3: the main thread is the third
    await Promise.all(s.workers.map((w) => w.terminate()));
  });

  it('starts nothing for another command, one thread, a small or split folder, a tar, or with VAULT_EARLY_HASH=0 or a bench knob', async () => {
    const big = await listed({ a: 70 * MiB });
    const small = await listed({ a: 10 * MiB });
    const split = await listed({ a: 70 * MiB });
    await writeFile(join(split, 'parts.json'), '{}');
    const tar = join(big, 'a');
    // More lines than boot.cjs lists before the CLI loads (one big file among them would be enough bytes).
    const many = await listed(
      { a: 70 * MiB },
      Array.from({ length: EARLY_MAX_FILES }, (_, i) => `${'0'.repeat(64)}  missing-${i}`),
    );
    for (const [argv, env] of [
      [['inspect', big], ENV],
      [['verify', big, '--threads', '1'], ENV],
      [['verify', '--threads=1', big], ENV],
      [['verify', small, '--threads', '4'], ENV],
      [['verify', split, '--threads', '4'], ENV],
      [['verify', tar, '--threads', '4'], ENV],
      [['verify', big, '--threads', '4'], { ...ENV, VAULT_EARLY_HASH: '0' }],
      [['verify', big, '--threads', '4'], { ...ENV, VAULT_HASH_READ_KIB: '1024' }],
      [['verify', big, 'more', '--threads', '4'], ENV],
      [['verify', many, '--threads', '4'], ENV],
    ] as const) {
      startEarlyHashing(argv, env);
      expect(takeEarlyHashing(), `${argv.join(' ')} ${JSON.stringify(env)}`).toBeUndefined();
    }
  });
});

describe("early hashing: verify's pool takes the threads over", () => {
  it('gives the digests a pool without them gives: covered jobs, one written since, and another kind of job', async () => {
    const data = { a: randomBytes(40 * MiB), b: randomBytes(30 * MiB), c: randomBytes(3 * MiB) };
    const dir = await listed(data);
    startEarlyHashing(['verify', dir, '--threads', '3'], ENV);
    // Meanwhile c grows: the pool sees 5 MiB, boot listed 3 MiB (that early digest must not be used).
    await writeFile(join(dir, 'c'), Buffer.concat([data.c, randomBytes(2 * MiB)]));
    const jobs = [
      await listedJob(join(dir, 'a')),
      await listedJob(join(dir, 'c')),
      { segments: [{ file: join(dir, 'b'), offset: MiB, length: MiB }], length: MiB },
      await listedJob(join(dir, 'b')),
    ];
    const pool = new HashPool(3);
    try {
      expect(pool.earlyMs).toBeGreaterThanOrEqual(0);
      const done: string[] = [];
      const got = await pool.hash(jobs, { onDone: (j) => done.push(j.segments[0]!.file) });
      const want = await hashHere(jobs);
      expect(got.map((r) => r.hex)).toEqual(want.map((r) => r.hex));
      expect(got[0]!.hex).toBe(sha(data.a));
      expect(done).toHaveLength(4);
      expect(pool.earlyFiles).toBe(2); // a and b: c was written since it was listed, the slice of b is no whole file
      // A second call (a split bundle's parts) hashes afresh on the same threads.
      expect((await pool.hash([jobs[0]!]))[0]!.hex).toBe(sha(data.a));
    } finally {
      await pool.close();
    }
  });

  it('a file rewritten in place (same size) after it was hashed early is hashed again: its stamp changed', async () => {
    const before = randomBytes(70 * MiB);
    const dir = await listed({ a: before });
    startEarlyHashing(['verify', dir, '--threads', '2'], ENV);
    const s = takeEarlyHashing()!;
    (globalThis as Record<symbol, unknown>)[Symbol.for('vault-bundle.early-hashing')] = s; // back, for the pool
    while (s.drained.size < s.workers.length) await new Promise((r) => setTimeout(r, 10));
    const after = randomBytes(70 * MiB);
    await new Promise((r) => setTimeout(r, 20)); // a later mtime even where the clock is coarse
    await writeFile(join(dir, 'a'), after); // same size, same inode, other bytes
    const pool = new HashPool(2);
    try {
      expect((await pool.hash([await listedJob(join(dir, 'a'))]))[0]!.hex).toBe(sha(after));
      expect(pool.earlyFiles).toBe(0);
      expect(sha(before)).not.toBe(sha(after));
    } finally {
      await pool.close();
    }
  });

  it('a pool started without early threads has no earlyMs', async () => {
    const pool = new HashPool(2);
    expect(pool.earlyMs).toBeUndefined();
    await pool.close();
  });
});

describe('early hashing through the carried runtime (runtime/boot.cjs)', () => {
  let work: string;
  let bundle: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-early-boot-'));
    bundle = await hostRuntimeBundle(work, 'eh');
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  const boot = (dir: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [join(dir, 'runtime/boot.cjs'), ...args], { env: { ...ENV, ...env }, encoding: 'utf8', timeout: 60_000 });
  const steps = (out: string) => (JSON.parse(out.trim().split('\n').at(-1)!) as { ok: boolean; steps: { name: string }[] }).steps.map((s) => s.name);

  it('verify takes over the threads boot.cjs started (its 100 MB node makes the bundle big); VAULT_EARLY_HASH=0 starts none', () => {
    const on = boot(bundle, ['--json', 'verify', '--threads', '2', bundle]);
    expect(on.status).toBe(0);
    expect(steps(on.stdout)).toContain('threads-early');
    const off = boot(bundle, ['--json', 'verify', '--threads', '2', bundle], { VAULT_EARLY_HASH: '0' });
    expect(off.status).toBe(0);
    expect(steps(off.stdout)).not.toContain('threads-early');
  });

  it("16 early threads (the box's count) print no listener-leak warning: each pipes its output into the process's", () => {
    const r = boot(bundle, ['--json', 'verify', '--threads', '16', bundle]);
    expect(r.status).toBe(0);
    expect(steps(r.stdout)).toContain('threads-early');
    expect(r.stderr).toBe('');
  });

  it('a changed runtime/node is found by the early threads as by verify alone (DIGEST_MISMATCH, exit 4)', async () => {
    const d = join(await tempDir(), 'b');
    execFileSync('cp', ['-al', bundle, d]);
    const node = join(d, 'runtime/node');
    const bytes = await readFile(node);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1000) ^ 1, bytes.length - 1000);
    await rm(node); // a hard link: replaced, never written into
    await writeFile(node, bytes, { mode: 0o755 });
    const r = spawnSync(process.execPath, [join(d, 'runtime/boot.cjs'), '--json', 'verify', '--threads', '2', d], { env: ENV, encoding: 'utf8' });
    expect(r.status).toBe(4);
    expect(r.stdout).toMatch(/"code":"DIGEST_MISMATCH","path":"runtime\/node"/);
    expect(steps(r.stdout)).toContain('threads-early');
  });

  it('a run that never gets to hashing (a usage error) ends at once, not held by the threads', () => {
    const r = boot(bundle, ['verify', bundle, '--threads', '2', '--no-such-flag']);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});
