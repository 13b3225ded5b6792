import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { digestOf } from '../src/store/digest.js';
import { claimPartial, lockPathOf } from '../src/store/partial-lock.js';
import { gcStore } from '../src/store/maintain.js';
import { readProof } from '../src/store/proof.js';
import { Store } from '../src/store/store.js';
import { processStamp, processStartTime, signalChild } from '../src/util/proc.js';
import { buildIn } from './helpers/build.js';
import { fileManifest, flipByte, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Issue #14: a single-stream download's partial file is written by one process only (store/partial-lock.ts),
 * so its streaming hash is a proof of the landed blob (store/proof.ts recordStreamed): a cold build's copies
 * are not hashed a second time, an edit of a landed blob is still caught, and builds sharing a cache still work.
 */
describe('exclusive partial files: a streamed download proves its blob as it lands', () => {
  it('an in-place edit of a blob proven at its download is still CACHE_CORRUPT at the next build', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [5000, 6 << 20] });
    const cold = await buildIn(dir, manifest);
    expect(cold.copies).toEqual({ blobs: 0, unchanged: 0, reused: 0, written: 2 });
    const d = digestOf(files[1]!.sha256);
    expect(await readProof(join(dir, 'cache'), d)).toBeDefined();
    const cached = join(dir, 'cache/blobs/sha256', files[1]!.sha256);
    await sleep(20);
    await chmod(cached, 0o644);
    await flipByte(cached, 4321);
    await chmod(cached, 0o444);
    const err = await buildIn(dir, manifest, { out: join(dir, 'o2') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CACHE_CORRUPT', exitCode: 4 });
    const again = await buildIn(dir, manifest, { out: join(dir, 'o3') });
    expect(again.fetch.downloadedFiles).toBe(1);
    expect((await verifyBundle(again.dir)).ok).toBe(true);
    expect(sha256(await readFile(join(again.dir, 'blobs/sha256', files[1]!.sha256)))).toBe(files[1]!.sha256);
  });

  it('two builds sharing one cache at once both succeed, and leave no lock or partial file behind', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [300, 70_000, 5 << 20, 9 << 20] });
    const [a, b] = await Promise.all([buildIn(dir, manifest, { out: join(dir, 'a') }), buildIn(dir, manifest, { out: join(dir, 'b') })]);
    expect((await verifyBundle(a.dir)).ok).toBe(true);
    expect((await verifyBundle(b.dir)).ok).toBe(true);
    expect(await readdir(join(dir, 'cache/partial'))).toEqual([]);
  });

  it('a lock of a live process sends the claim to a file of its own; a dead process lock is taken over', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'partial'));
    const partial = join(dir, 'partial', `${'ab'.repeat(32)}.part`);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const start = processStartTime(pid)!;
      await writeFile(lockPathOf(partial), `${pid}-${start}`);
      const other = await claimPartial(partial);
      expect(other.shared).toBe(false);
      expect(other.path).not.toBe(partial);
      expect(other.path).toContain(`vbtmp-${processStamp()}-`);
      // The same pid with another start time: a process that is gone (its pid reused or not).
      await writeFile(lockPathOf(partial), `${pid}-${Number(start) + 1}`);
      const mine = await claimPartial(partial);
      expect(mine.shared).toBe(true);
      expect(mine.path).toBe(partial);
      expect(await readFile(lockPathOf(partial), 'utf8')).toBe(processStamp());
      // Held by this process: a second claim (another store of this process) gets its own file too.
      expect((await claimPartial(partial)).shared).toBe(false);
      await mine.release();
      expect(await readdir(join(dir, 'partial'))).toEqual([]);
    } finally {
      signalChild(child, 'SIGKILL');
    }
  });

  it('cache gc removes a killed build lock and private partial file along with the partial of a blob it drops', async () => {
    const dir = await tempDir();
    const store = new Store(dir);
    await mkdir(join(dir, 'partial'), { recursive: true });
    const hex = 'cd'.repeat(32);
    const names = [`${hex}.part`, `${hex}.lock`, `${hex}.vbtmp-123-456-1-.part`];
    for (const n of names) await writeFile(join(dir, 'partial', n), 'x');
    const r = await gcStore(store, new Set());
    expect(r.removed.map((x) => x.name).sort()).toEqual(names.map((n) => `partial/${n}`).sort());
    expect(await readdir(join(dir, 'partial'))).toEqual([]);
  });
});
