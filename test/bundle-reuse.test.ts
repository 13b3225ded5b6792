import { execFile } from 'node:child_process';
import { chmod, link, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { digestOf } from '../src/store/digest.js';
import { gcStore } from '../src/store/maintain.js';
import { statBlob } from '../src/store/proof.js';
import { Store } from '../src/store/store.js';
import { buildIn } from './helpers/build.js';
import { type FixtureFile, fileManifest, flipByte, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);

const blobOf = (dir: string, f: FixtureFile) => join(dir, 'blobs/sha256', f.sha256);

/**
 * A rebuild over its own folder takes that bundle's blobs as they are (hard links into the stage, store/placed.ts)
 * when each is proven unchanged since the build that placed it: a warm rebuild no longer copies every byte again.
 * Never an inode shared with the cache (issue #14 class 1), nor with anything but the bundle being replaced.
 */
describe('a rebuild over its own folder takes the old bundle blobs proven unchanged', () => {
  it('links them instead of copying: the same inodes, one link each, never the cache file; verify passes', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000, 300] });
    const cold = await buildIn(dir, manifest);
    expect(cold.copies).toEqual({ blobs: 0, unchanged: 0, reused: 0, written: 3 });
    const inodes = await Promise.all(files.map(async (f) => (await stat(blobOf(cold.dir, f))).ino));
    const warm = await buildIn(dir, manifest);
    expect(warm.copies).toEqual({ blobs: 0, unchanged: 0, reused: 3, written: 0 });
    for (const [i, f] of files.entries()) {
      const st = await stat(blobOf(warm.dir, f));
      expect(st.ino).toBe(inodes[i]);
      expect(st.nlink).toBe(1); // the old bundle is gone: nothing else holds it
      expect(st.ino).not.toBe((await stat(join(dir, 'cache/blobs/sha256', f.sha256))).ino);
    }
    expect((await verifyBundle(warm.dir)).ok).toBe(true);
    // And again: the record follows the bundle from build to build.
    expect((await buildIn(dir, manifest)).copies.reused).toBe(3);
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]); // no stage, old bundle or clock file left
  });

  it('an in-place edit of an old blob that keeps its size and puts its mtime back is copied from the cache, never linked', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000] });
    const first = await buildIn(dir, manifest);
    const edited = blobOf(first.dir, files[1]!);
    const before = await statBlob(edited);
    await sleep(20); // past the clock tick of the record, as a real edit would be
    await chmod(edited, 0o644);
    await flipByte(edited, 777);
    await chmod(edited, Number(before.mode & 0o777n));
    const ns = before.mtimeNs % 1_000_000_000n;
    await run('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, '0')}`, edited]);
    const after = await statBlob(edited);
    expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);
    expect(sha256(await readFile(edited))).not.toBe(files[1]!.sha256);

    const again = await buildIn(dir, manifest);
    expect(again.copies).toMatchObject({ blobs: 1, reused: 1 });
    expect((await stat(blobOf(again.dir, files[1]!))).ino).not.toBe(before.ino);
    expect(sha256(await readFile(blobOf(again.dir, files[1]!)))).toBe(files[1]!.sha256);
    expect((await verifyBundle(again.dir)).ok).toBe(true);
  });

  it('a blob with a second hard link (someone else holds it) is copied: the new bundle shares no inode with it', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000] });
    const first = await buildIn(dir, manifest);
    const mine = join(dir, 'my-copy.bin');
    await link(blobOf(first.dir, files[0]!), mine);
    const again = await buildIn(dir, manifest);
    expect(again.copies).toMatchObject({ blobs: 1, reused: 1 });
    expect((await stat(blobOf(again.dir, files[0]!))).ino).not.toBe((await stat(mine)).ino);
    expect((await stat(mine)).nlink).toBe(1); // the old bundle went; the user's file stays, alone
    expect((await verifyBundle(again.dir)).ok).toBe(true);
  });

  it('takes nothing from another folder, nor where the record is missing or damaged', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [5000, 300] });
    await buildIn(dir, manifest);
    expect((await buildIn(dir, manifest, { out: join(dir, 'other') })).copies.reused).toBe(0);
    const records = join(dir, 'cache/placed');
    for (const name of await readdir(records)) await writeFile(join(records, name), '{"out": 1, "files": [');
    const damaged = await buildIn(dir, manifest);
    expect(damaged.copies).toMatchObject({ blobs: 2, reused: 0 });
    expect((await verifyBundle(damaged.dir)).ok).toBe(true);
    expect((await buildIn(dir, manifest)).copies.reused).toBe(2); // the build after writes a sound record
  });

  it('a --tar build over its folder takes the blobs too, and its tar verifies', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [5000, 70_000] });
    await buildIn(dir, manifest);
    const tar = join(dir, 'b.tar');
    const r = await buildIn(dir, manifest, { tar });
    expect(r.copies.reused).toBe(2);
    expect((await verifyBundle(tar)).ok).toBe(true);
    expect((await verifyBundle(r.dir)).ok).toBe(true);
  });

  it('cache gc drops the records of bundle folders that are gone, and keeps the others', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000] });
    await buildIn(dir, manifest);
    const gone = await buildIn(dir, manifest, { out: join(dir, 'gone') });
    await rm(gone.dir, { recursive: true });
    const records = join(dir, 'cache/placed');
    expect(await readdir(records)).toHaveLength(2);
    await writeFile(join(records, 'damaged'), '{"out": "/som'); // a record cut short: dropped too, gc goes on
    await gcStore(new Store(join(dir, 'cache')), new Set([digestOf(files[0]!.sha256)]));
    expect(await readdir(records)).toHaveLength(1);
    expect((await buildIn(dir, manifest)).copies.reused).toBe(1);
  });
});
