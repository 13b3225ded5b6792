import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HashPool, hashHere, wholeFile } from '../src/bundle/hashpool.js';
import { fileStamp, startEarlyHashing, takeEarlyHashing, takeEarlyProcs } from '../src/util/early-hash.js';
import { type ChooseFs, PROC_MIN_BYTES, type ProcJob, hashProgram, procQueue } from '../src/util/hash-procs.js';
import { InterruptedError } from '../src/util/errors.js';
import { hostRuntimeBundle } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Big whole files hashed by the box's sha256sum (or openssl) processes (src/util/hash-procs.ts): the digests and
 * verdicts are those of verify's own threads; anything odd hands the file back to be hashed in-process. This
 * machine's sha256sum (Debian 12) has no libcrypto, so `auto` keeps threads here: the tests ask for a program.
 */
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ROOT = join(import.meta.dirname, '..');

/** This process's children running `name` (pgrep). */
function children(name: string): number {
  const r = spawnSync('pgrep', ['-c', '-P', String(process.pid), '-x', name], { encoding: 'utf8' });
  return Number(r.stdout.trim() || 0);
}

async function files(sizes: Record<string, number>): Promise<{ dir: string; data: Record<string, Buffer> }> {
  const dir = await tempDir('vb-procs');
  const data: Record<string, Buffer> = {};
  for (const [name, size] of Object.entries(sizes)) await writeFile(join(dir, name), (data[name] = randomBytes(size)));
  return { dir, data };
}

async function listedJob(file: string) {
  const st = await stat(file);
  return { ...wholeFile(file, st.size), stamp: fileStamp(st) };
}

/** The queue's answer for one job: the digest, or undefined (handed back). */
function viaQueue(job: Omit<ProcJob, 'cb'>, program = hashProgram({ VAULT_HASHER: 'openssl' })): Promise<string | undefined> {
  if (!program) throw new Error('no such program here');
  const q = procQueue(program, 2);
  return new Promise((resolve) => q.add({ ...job, cb: resolve }));
}

afterEach(() => {
  vi.unstubAllEnvs();
  takeEarlyProcs()?.procs.close();
  void takeEarlyHashing();
});

describe('which program hashes', () => {
  it('VAULT_HASHER picks one or none; auto takes sha256sum only where it links libcrypto', () => {
    expect(hashProgram({ VAULT_HASHER: 'threads' })).toBeUndefined();
    expect(hashProgram({ VAULT_HASHER: 'openssl' })).toMatchObject({ name: 'openssl', args: ['dgst', '-sha256', '-r'] });
    expect(hashProgram({ VAULT_HASHER: 'sha256sum' })).toMatchObject({ name: 'sha256sum', args: [] });
    const bin = ['/usr/bin/sha256sum', '/bin/sha256sum'].find((p) => spawnSync('test', ['-f', p]).status === 0)!;
    const links = readFileSync(bin).includes('libcrypto.so');
    const auto = hashProgram({});
    expect(auto?.name).toBe(links ? 'sha256sum' : undefined);
  });

  it("auto: a sha256sum that names libcrypto, is executable and of a program's size; else threads", () => {
    const fake = (bytes: string, o: { size?: number; exec?: boolean } = {}): ChooseFs =>
      ({
        constants,
        statSync: () => ({ isFile: () => true, size: o.size ?? bytes.length }),
        accessSync: () => {
          if (o.exec === false) throw new Error('EACCES');
        },
        readFileSync: () => Buffer.from(bytes),
      }) as unknown as ChooseFs;
    expect(hashProgram({}, fake('ELF...libcrypto.so.3...'))).toEqual({ name: 'sha256sum', bin: '/usr/bin/sha256sum', args: [] });
    expect(hashProgram({}, fake('ELF...libc.so.6...'))).toBeUndefined();
    expect(hashProgram({}, fake('ELF...libcrypto.so.3...', { size: 64 * MiB }))).toBeUndefined();
    expect(hashProgram({}, fake('ELF...libcrypto.so.3...', { exec: false }))).toBeUndefined();
  });
});

describe('the queue', () => {
  it.each(['sha256sum', 'openssl'] as const)('%s gives the digest of the file it is handed (as its stdin)', async (name) => {
    const { dir, data } = await files({ a: 5 * MiB });
    const job = { file: join(dir, 'a'), size: 5 * MiB };
    const program = hashProgram({ VAULT_HASHER: name });
    expect(program?.name).toBe(name);
    expect(await viaQueue(job, program)).toBe(sha(data.a ?? Buffer.alloc(0)));
  });

  it('hands back a FIFO, a missing file, a file of another size or stamp, and what a program fails or garbles', async () => {
    const { dir } = await files({ a: MiB });
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const a = join(dir, 'a');
    const st = await stat(a);
    expect(await viaQueue({ file: join(dir, 'fifo'), size: 0 })).toBeUndefined(); // not waiting forever for a writer
    expect(await viaQueue({ file: join(dir, 'gone'), size: 1 })).toBeUndefined();
    expect(await viaQueue({ file: a, size: MiB - 1 })).toBeUndefined();
    expect(await viaQueue({ file: a, size: MiB, stamp: 'other', stampOf: fileStamp })).toBeUndefined();
    expect(await viaQueue({ file: a, size: MiB, stamp: fileStamp(st), stampOf: fileStamp })).toMatch(/^[0-9a-f]{64}$/);
    const program = (bin: string, args: string[]) => ({ name: 'sha256sum' as const, bin, args });
    expect(await viaQueue({ file: a, size: MiB }, program('/no/such/program', []))).toBeUndefined();
    expect(await viaQueue({ file: a, size: MiB }, program('/bin/sh', ['-c', 'cat >/dev/null; exit 1']))).toBeUndefined();
    expect(await viaQueue({ file: a, size: MiB }, program('/bin/sh', ['-c', 'cat >/dev/null; echo not-a-digest']))).toBeUndefined();
  });

  it('a file written while its process reads it is handed back, not given the digest of bytes that changed', async () => {
    const { dir } = await files({ a: MiB });
    const a = join(dir, 'a');
    // The "program" waits, so the write lands while it runs; then it prints a well-formed digest.
    const slow = { name: 'sha256sum' as const, bin: '/bin/sh', args: ['-c', `sleep 0.3; sha256sum`] };
    const got = viaQueue({ file: a, size: MiB }, slow);
    await new Promise((r) => setTimeout(r, 100));
    await writeFile(a, randomBytes(MiB));
    expect(await got).toBeUndefined();
  });

  it('positions() tells how far each running process has read (a progress line)', async () => {
    const { dir } = await files({ a: 2 * MiB });
    const q = procQueue({ name: 'sha256sum', bin: '/bin/sh', args: ['-c', 'head -c 1048576 >/dev/null; sleep 0.5'] }, 1);
    const done = new Promise((resolve) => q.add({ file: join(dir, 'a'), size: 2 * MiB, cb: resolve }));
    await new Promise((r) => setTimeout(r, 250));
    const [[job, read] = []] = q.positions();
    expect(job?.file).toBe(join(dir, 'a'));
    expect(read).toBeGreaterThanOrEqual(MiB);
    expect(await done).toBeUndefined(); // its output is no digest
  });

  it('close() kills what runs and hands back what waits', async () => {
    const { dir } = await files({ a: MiB, b: MiB });
    const q = procQueue({ name: 'sha256sum', bin: '/bin/sh', args: ['-c', 'exec sleep 30'] }, 1);
    const t0 = performance.now();
    const both = ['a', 'b'].map((f) => new Promise((resolve) => q.add({ file: join(dir, f), size: MiB, cb: resolve })));
    await new Promise((r) => setTimeout(r, 100));
    q.close();
    expect(await Promise.all(both)).toEqual([undefined, undefined]);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(q.busy).toBe(0);
  });
});

describe("verify's pool with processes", () => {
  it.each(['sha256sum', 'openssl'] as const)('%s: the digests threads give, for big files, small ones, slices and a short file', async (name) => {
    vi.stubEnv('VAULT_HASHER', name);
    const { dir, data } = await files({ a: 9 * MiB, b: 6 * MiB, c: MiB });
    const jobs = [
      await listedJob(join(dir, 'a')),
      await listedJob(join(dir, 'b')),
      await listedJob(join(dir, 'c')),
      { segments: [{ file: join(dir, 'a'), offset: MiB, length: 5 * MiB }], length: 5 * MiB },
      wholeFile(join(dir, 'b'), 8 * MiB), // listed longer than it is: a short read, as threads report it
    ];
    const pool = new HashPool(3);
    try {
      const done: number[] = [];
      const got = await pool.hash(jobs, { onDone: (j) => done.push(j.length) });
      expect(got).toEqual(await hashHere(jobs));
      expect(got[0]!.hex).toBe(sha(data.a!));
      expect(done.sort((x, y) => x - y)).toEqual(jobs.map((j) => j.length).sort((x, y) => x - y));
      // a and b went to processes (b's short job was handed back: another size than the file's)
      expect(pool.by).toEqual({ by: name, processes: 2 });
    } finally {
      await pool.close();
    }
    expect(9 * MiB).toBeGreaterThanOrEqual(PROC_MIN_BYTES);
  });

  it('Ctrl-C (an abort) stops the processes and rejects with InterruptedError', async () => {
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const { dir } = await files({ a: 8 * MiB });
    const pool = new HashPool(2);
    const ac = new AbortController();
    const job = await listedJob(join(dir, 'a'));
    const p = pool.hash([job, job, job, job], { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    await pool.close();
  });

  it('an abort kills the running processes at once (1 GiB files each would take seconds)', async () => {
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const dir = await tempDir('vb-procs');
    const jobs = [];
    for (const n of ['a', 'b', 'c']) {
      await writeFile(join(dir, n), '');
      await truncate(join(dir, n), 1024 * MiB);
      jobs.push(await listedJob(join(dir, n)));
    }
    const pool = new HashPool(2);
    const ac = new AbortController();
    const p = pool.hash(jobs, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 100));
    expect(children('openssl')).toBe(2);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    await new Promise((r) => setTimeout(r, 100));
    expect(children('openssl')).toBe(0);
    await expect(pool.hash(jobs.slice(0, 1))).rejects.toThrow(/were stopped/); // as a pool of threads: no more work
    await pool.close();
  });

  it("tells a progress line the bytes a process has read so far (from its stdin's position)", async () => {
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const dir = await tempDir('vb-procs');
    await writeFile(join(dir, 'a'), '');
    await truncate(join(dir, 'a'), 1024 * MiB); // seconds here, ~0.5 s at SHA-NI speed: polls every 250 ms see it
    const job = await listedJob(join(dir, 'a'));
    const pool = new HashPool(2);
    const seen: number[] = [];
    try {
      await pool.hash([job], { onBytes: (j, read) => j === job && seen.push(read) });
    } finally {
      await pool.close();
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((n) => n > 0 && n <= 1024 * MiB)).toBe(true);
  });

  it('leaves no progress timer behind when every job settled at once (handed back before any process ran)', async () => {
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const { dir } = await files({ a: 8 * MiB });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }); // counted, held or not
    const pool = new HashPool(2);
    const stale = { ...(await listedJob(join(dir, 'a'))), stamp: 'written-since' };
    const [r] = await pool.hash([stale], { onBytes: () => undefined });
    expect(r!.read).toBe(8 * MiB); // hashed here instead
    await pool.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('a process started unheld (boot.cjs) is held once the pool takes it: the run waits for its digest', async () => {
    const { dir, data } = await files({ a: 5 * MiB });
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/proc/early-ref.ts'), join(dir, 'a'), String(5 * MiB)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([sha(data.a ?? Buffer.alloc(0)), '{"back":[]}', '']);
  });

  it('boot.cjs gives the big listed files to processes before the CLI loads; the pool takes them, not a file written since', async () => {
    const { dir, data } = await files({ a: 40 * MiB, b: 30 * MiB, c: MiB });
    const sums = Object.entries(data).map(([n, b]) => `${sha(b)}  ${n}`);
    await writeFile(join(dir, 'SHA256SUMS'), sums.join('\n') + '\n');
    startEarlyHashing(['verify', dir, '--threads', '3'], { PATH: '/usr/bin:/bin', VAULT_HASHER: 'openssl' });
    expect(takeEarlyHashing()).toBeUndefined(); // no threads
    const s = takeEarlyProcs()!;
    expect(s.jobs.map((j) => j.file)).toEqual([join(dir, 'a'), join(dir, 'b')]); // c is small: left to the pool
    (globalThis as Record<symbol, unknown>)[Symbol.for('vault-bundle.early-procs')] = s; // back, for the pool
    const after = randomBytes(30 * MiB);
    while (s.results[1] === undefined) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(dir, 'b'), after); // same size, hashed early before this write
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const pool = new HashPool(3);
    try {
      const jobs = [await listedJob(join(dir, 'a')), await listedJob(join(dir, 'b')), await listedJob(join(dir, 'c'))];
      const got = await pool.hash(jobs);
      expect(got.map((r) => r.hex)).toEqual([sha(data.a!), sha(after), sha(data.c!)]);
      expect(pool.earlyMs).toBeGreaterThanOrEqual(0);
      expect(pool.by).toEqual({ by: 'openssl', processes: 3 }); // a and b early, b again
    } finally {
      await pool.close();
    }
  });

  it('an early file written since, still waiting for a process, is never run early (its stamp is checked at its start)', async () => {
    const dir = await tempDir('vb-procs');
    for (const n of ['a', 'b']) {
      await writeFile(join(dir, n), '');
      await truncate(join(dir, n), 512 * MiB); // the two slots stay busy while the pool takes over
    }
    await writeFile(join(dir, 'c'), randomBytes(8 * MiB));
    await writeFile(join(dir, 'SHA256SUMS'), ['a', 'b', 'c'].map((n) => `${'0'.repeat(64)}  ${n}`).join('\n') + '\n');
    startEarlyHashing(['verify', dir, '--threads', '2'], { PATH: '/usr/bin:/bin', VAULT_HASHER: 'openssl' });
    const c2 = randomBytes(8 * MiB);
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(dir, 'c'), c2); // c waits for a slot: its early job is of the old bytes
    vi.stubEnv('VAULT_HASHER', 'openssl');
    const pool = new HashPool(2);
    try {
      const jobs = await Promise.all(['a', 'b', 'c'].map((n) => listedJob(join(dir, n))));
      const got = await pool.hash(jobs);
      expect(got[2]!.hex).toBe(sha(c2));
      expect(pool.by).toEqual({ by: 'openssl', processes: 3 }); // a, b early; c once, fresh
    } finally {
      await pool.close();
    }
  });
});

describe('verify through the carried runtime with processes', () => {
  let work: string;
  let bundle: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-procs-boot-'));
    bundle = await hostRuntimeBundle(work, 'hp');
  });
  afterAll(() => rm(work, { recursive: true, force: true }));
  const boot = (dir: string, args: string[]) =>
    spawnSync(process.execPath, [join(dir, 'runtime/boot.cjs'), ...args], {
      env: { PATH: '/usr/bin:/bin', VAULT_HASHER: 'openssl', VAULT_BUNDLE_BOOT_REPORT: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const last = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!) as { ok: boolean; hashedBy?: object; steps: { name: string }[] };

  it('passes a whole bundle, says what hashed it, and names a changed runtime/node (DIGEST_MISMATCH, exit 4)', async () => {
    const ok = boot(bundle, ['--json', 'verify', '--threads', '2', bundle]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toBe('vault-bundle boot: code cache used\n'); // processes start before the CLI compiles: the cache still fits
    expect(last(ok.stdout)).toMatchObject({ ok: true, hashedBy: { by: 'openssl' } });
    expect(last(ok.stdout).steps.map((s) => s.name)).toContain('threads-early');
    const d = join(await tempDir(), 'b');
    execFileSync('cp', ['-al', bundle, d]);
    const node = join(d, 'runtime/node');
    const bytes = await readFile(node);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1000) ^ 1, bytes.length - 1000);
    await rm(node);
    await writeFile(node, bytes, { mode: 0o755 });
    const bad = boot(d, ['--json', 'verify', '--threads', '2', d]);
    expect(bad.status).toBe(4);
    expect(bad.stdout).toMatch(/"code":"DIGEST_MISMATCH","path":"runtime\/node"/);
  });
});
