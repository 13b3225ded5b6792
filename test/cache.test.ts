import { chmod, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { Store } from '../src/store/store.js';
import { gcStore, verifyStore } from '../src/store/maintain.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest, flipByte, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** Makes a file writable and flips one byte in it: an edit (or bit rot) in place, keeping size and name. */
async function editInPlace(path: string, at = 0): Promise<void> {
  await chmod(path, 0o644);
  await flipByte(path, at);
}

describe('the cache never shares bytes with a bundle, and proves what it hands out', () => {
  it('a blob edited in place inside a built bundle leaves the cache alone; the next bundle still verifies', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000] });
    const a = await buildIn(dir, manifest, { out: join(dir, 'a') });
    const blob = join(a.dir, 'blobs/sha256', files[1]!.sha256);
    const cached = join(dir, 'cache/blobs/sha256', files[1]!.sha256);
    expect((await stat(blob)).ino).not.toBe((await stat(cached)).ino);
    expect((await stat(blob)).nlink).toBe(1);
    await editInPlace(blob, 100);
    expect(sha256(await readFile(cached))).toBe(files[1]!.sha256);
    const b = await buildIn(dir, manifest, { out: join(dir, 'b') });
    expect((await verifyBundle(b.dir)).ok).toBe(true);
    expect((await verifyBundle(a.dir)).ok).toBe(false);
  });

  it('a cache blob damaged in place is never published: build fails naming it, moves it aside, and the rerun fetches it anew', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000] });
    await buildIn(dir, manifest, { out: join(dir, 'a') });
    const cached = join(dir, 'cache/blobs/sha256', files[1]!.sha256);
    await editInPlace(cached, 7);
    const err = await buildIn(dir, manifest, { out: join(dir, 'b') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CACHE_CORRUPT', exitCode: 4 });
    expect((err as Error).message).toContain(files[1]!.sha256);
    await expect(stat(join(dir, 'b'))).rejects.toThrow(); // nothing published
    expect(await readdir(join(dir, 'cache/quarantine'))).toHaveLength(1);
    const again = await buildIn(dir, manifest, { out: join(dir, 'b') });
    expect((await verifyBundle(again.dir)).ok).toBe(true);
  });

  it('cache verify re-hashes everything, moves bad entries aside and exits 4; a clean cache exits 0', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000, 300] });
    await buildIn(dir, manifest, { out: join(dir, 'a') });
    const cache = join(dir, 'cache');
    const clean = await runCli(['--cache-dir', cache, 'cache', 'verify']);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/ok: \d+ blobs/);
    await editInPlace(join(cache, 'blobs/sha256', files[0]!.sha256), 1);
    await writeFile(join(cache, 'blobs/sha256', 'not-a-digest'), 'x');
    const bad = await runCli(['--cache-dir', cache, 'cache', 'verify']);
    expect(bad.code).toBe(4);
    expect(bad.stdout).toContain(`BAD ${files[0]!.sha256}`);
    expect(bad.stdout).toContain('BAD not-a-digest');
    expect((await readdir(join(cache, 'quarantine'))).length).toBe(2);
    const after = await verifyStore(new Store(cache));
    expect(after.bad).toEqual([]);
    const json = await runCli(['--json', '--cache-dir', cache, 'cache', 'verify']);
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ type: 'result', ok: true, bad: [] });
  });

  it('cache gc --keep-locks keeps what the locks name, drops the rest (and quarantine); --dry-run removes nothing', async () => {
    const dir = await tempDir();
    const one = join(dir, 'one');
    const two = join(dir, 'two');
    await mkdir(one);
    await mkdir(two);
    const cache = join(dir, 'cache');
    const m1 = await fileManifest(one, { sizes: [100, 200] });
    const m2 = await fileManifest(two, { sizes: [300] });
    await buildIn(one, m1.manifest, { cacheDir: cache });
    await buildIn(two, m2.manifest, { cacheDir: cache });
    // Only the first project's lock is kept.
    const keep = join(dir, 'keep');
    await mkdir(join(keep, 'sub'), { recursive: true });
    await rename(join(one, 'm.lock.json'), join(keep, 'sub', 'm.lock.json'));
    const dry = await runCli(['--cache-dir', cache, 'cache', 'gc', '--keep-locks', keep, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would remove blobs/sha256/${m2.files[0]!.sha256}`);
    expect(await readdir(join(cache, 'blobs/sha256'))).toContain(m2.files[0]!.sha256);
    const real = await runCli(['--cache-dir', cache, 'cache', 'gc', '--keep-locks', keep]);
    expect(real.code).toBe(0);
    const left = await readdir(join(cache, 'blobs/sha256'));
    expect(left.sort()).toEqual(m1.files.map((f) => f.sha256).sort());
    // No lock at all is refused: it would empty the cache.
    await mkdir(join(dir, 'empty'));
    const none = await runCli(['--cache-dir', cache, 'cache', 'gc', '--keep-locks', join(dir, 'empty')]);
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/no lock files/);
    // The library's report counts bytes.
    const r = await gcStore(new Store(cache), new Set(), { dryRun: true });
    expect(r.removed.length).toBe(2);
  });
});
