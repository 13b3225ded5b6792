import { execFile } from 'node:child_process';
import { chmod, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { copyBlobOut } from '../src/store/copy.js';
import { digestOf } from '../src/store/digest.js';
import { gcStore } from '../src/store/maintain.js';
import { clockMark, readProof, recordProof, statBlob } from '../src/store/proof.js';
import { Store } from '../src/store/store.js';
import { buildIn } from './helpers/build.js';
import { fileManifest, flipByte, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);

/**
 * Issue #14 class 1, the cheap proof: a cache blob whose file is unchanged since it last hashed to its name
 * (device, inode, size, mtime, ctime) is copied out without hashing; anything that moves ctime sends the copy
 * to be hashed, so an in-place edit that keeps size and mtime is still never published.
 */
describe('cache proofs: warm rebuilds copy proven blobs without hashing, and an edit is still caught', () => {
  it('the first copy is hashed and recorded; later builds copy the unchanged blobs without hashing', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000, 300] });
    const cold = await buildIn(dir, manifest);
    // Downloaded now: each written into the bundle as it arrived (store/tee.ts), nothing copied out of the cache.
    expect(cold.copies).toEqual({ blobs: 0, unchanged: 0, reused: 0, written: 3 });
    expect(cold.fetch.downloadedFiles).toBe(3);
    // A blob that changed in the very tick of the cache's clock mark gets its proof one build later (proof.ts).
    // Each into a folder of its own: over its own folder a build takes that bundle's blobs (bundle-reuse.test.ts).
    await buildIn(dir, manifest, { out: join(dir, 'w1') });
    const warm = await buildIn(dir, manifest, { out: join(dir, 'w2') });
    // Hashed as they streamed into partial files only the first build wrote: proven as they landed, not hashed again.
    expect(warm.copies).toEqual({ blobs: 3, unchanged: 3, reused: 0, written: 0 });
    expect(warm.fetch.cachedFiles).toBe(3);
    expect((await verifyBundle(warm.dir)).ok).toBe(true);
    for (const f of files) {
      const blob = join(warm.dir, 'blobs/sha256', f.sha256);
      const cached = join(dir, 'cache/blobs/sha256', f.sha256);
      expect((await stat(blob)).ino).not.toBe((await stat(cached)).ino); // still a copy, never a link
      expect(sha256(await readFile(blob))).toBe(f.sha256);
    }
    expect((await readdir(join(dir, 'cache/proofs'))).sort()).toEqual(files.map((f) => f.sha256).sort());
  });

  it('an in-place edit of a cache blob that keeps its size and puts its mtime back moves ctime: the copy is hashed, nothing is published, the rerun refetches', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 70_000] });
    await buildIn(dir, manifest);
    const proven = await buildIn(dir, manifest, { out: join(dir, 'p') });
    expect(proven.copies.unchanged).toBe(2); // the next build would not hash: the proof is in use
    const cached = join(dir, 'cache/blobs/sha256', files[1]!.sha256);
    const before = await statBlob(cached);
    await sleep(20); // past the clock tick of the last change, as a real edit would be
    await chmod(cached, 0o644);
    await flipByte(cached, 123);
    await chmod(cached, 0o444);
    // touch -d back to the old mtime, to the nanosecond
    const ns = before.mtimeNs % 1_000_000_000n;
    await run('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${String(ns).padStart(9, '0')}`, cached]);
    const edited = await statBlob(cached);
    expect([edited.size, edited.mtimeNs, edited.ino, edited.mode]).toEqual([before.size, before.mtimeNs, before.ino, before.mode]);
    expect(edited.ctimeNs).not.toBe(before.ctimeNs);
    expect(sha256(await readFile(cached))).not.toBe(files[1]!.sha256);

    // Over the previous bundle's folder, that bundle's own blobs are taken as they are (store/placed.ts): the
    // damaged cache file is not even read, and the new bundle is whole.
    const over = await buildIn(dir, manifest, { out: proven.dir });
    expect(over.copies).toEqual({ blobs: 0, unchanged: 0, reused: 2, written: 0 });
    expect((await verifyBundle(over.dir)).ok).toBe(true);
    // A folder whose blobs must come from the cache: the build fails and the bundle there stays in place, whole.
    const first = join(dir, 'out');
    await rm(join(dir, 'cache/placed'), { recursive: true }); // as a bundle made before store/placed.ts: nothing to take
    const err = await buildIn(dir, manifest, { out: first }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CACHE_CORRUPT', exitCode: 4 });
    expect((err as Error).message).toContain(files[1]!.sha256);
    expect((await verifyBundle(first)).ok).toBe(true);
    expect(await readdir(join(dir, 'cache/quarantine'))).toHaveLength(1);
    expect(await readProof(join(dir, 'cache'), digestOf(files[1]!.sha256))).toBeUndefined();

    const again = await buildIn(dir, manifest, { out: join(dir, 'b') });
    expect(again.fetch.downloadedFiles).toBe(1);
    // The refetched blob is written into the bundle as it arrives; the other one's copy is proven by its record.
    expect(again.copies).toEqual({ blobs: 1, unchanged: 1, reused: 0, written: 1 });
    expect((await verifyBundle(again.dir)).ok).toBe(true);
  });

  it('copyBlobOut: hashed and recorded once the blob is older than the mark; unchanged after; no proof for a blob as new as the mark', async () => {
    const dir = await tempDir();
    const store = new Store(join(dir, 'cache'));
    const blob = await store.putBuffer(Buffer.from('some bytes to prove'), 'test');
    const racy = await clockMark(store.root);
    // Stamped in the same tick as the blob's last change (or before it): no proof, whatever the hash says.
    expect(await recordProof(store.root, blob.digest, await statBlob(store.path(blob.digest)), (await statBlob(store.path(blob.digest))).ctimeNs)).toBe(false);
    expect(racy).toBeDefined();
    await sleep(20);
    const mark = await clockMark(store.root);
    expect(await copyBlobOut(store, blob.digest, join(dir, 'one'), mark)).toBe('hashed');
    expect(await readProof(store.root, blob.digest)).toBeDefined();
    expect(await copyBlobOut(store, blob.digest, join(dir, 'two'), mark)).toBe('unchanged');
    expect(await readFile(join(dir, 'two'), 'utf8')).toBe('some bytes to prove');
    // A chmod alone moves ctime: hashed again (and the blob is fine, so it is recorded anew).
    await chmod(store.path(blob.digest), 0o444);
    await sleep(20);
    const later = await clockMark(store.root);
    expect(await copyBlobOut(store, blob.digest, join(dir, 'three'), later)).toBe('hashed');
  });

  it('cache gc drops the proofs of the blobs it removes', async () => {
    const dir = await tempDir();
    const store = new Store(join(dir, 'cache'));
    const keep = await store.putBuffer(Buffer.from('kept'), 'a');
    const drop = await store.putBuffer(Buffer.from('dropped'), 'b');
    await sleep(20);
    const mark = await clockMark(store.root);
    for (const b of [keep, drop]) expect(await copyBlobOut(store, b.digest, join(dir, b.digest.slice(7)), mark)).toBe('hashed');
    expect(await readdir(join(store.root, 'proofs'))).toHaveLength(2);
    const r = await gcStore(store, new Set([keep.digest]));
    expect(r.removed.map((x) => x.name)).toEqual([`blobs/sha256/${drop.digest.slice(7)}`]);
    expect(await readdir(join(store.root, 'proofs'))).toEqual([keep.digest.slice(7)]);
  });
});
