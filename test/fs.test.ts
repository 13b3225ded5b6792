import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkWritableFolderOf, outputTarget, sweepStaleTemps, writeFileAtomic } from '../src/util/fs.js';
import { tempDir } from './helpers/tmp.js';

const root = process.getuid?.() === 0;

describe('writeFileAtomic', () => {
  it('writes through a symlink: the link stays, its target gets the bytes', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'real.json'), 'old');
    await symlink('real.json', join(dir, 'link.json'));
    await writeFileAtomic(join(dir, 'link.json'), 'new');
    expect((await lstat(join(dir, 'link.json'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'real.json'), 'utf8')).toBe('new');
    // A dangling link: its target is created, as the shell's ">" does.
    await symlink('sub/made.json', join(dir, 'dangling.json'));
    await writeFileAtomic(join(dir, 'dangling.json'), 'made');
    expect(await readlink(join(dir, 'dangling.json'))).toBe('sub/made.json');
    expect(await readFile(join(dir, 'sub/made.json'), 'utf8')).toBe('made');
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('vbtmp-'))).toEqual([]);
  });

  it('writes into a FIFO instead of replacing it', async () => {
    const dir = await tempDir();
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // A reader first (non-blocking), so the writer's open does not wait; the data fits the pipe's buffer.
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await writeFileAtomic(fifo, 'through the pipe');
      const buf = Buffer.alloc(64);
      const { bytesRead } = await reader.read(buf, 0, 64, null);
      expect(buf.subarray(0, bytesRead).toString()).toBe('through the pipe');
    } finally {
      await reader.close();
    }
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(await readdir(dir)).toEqual(['pipe']);
  });

  it.skipIf(!root)('writes into a character device (a null device made with mknod) and leaves it a device', async () => {
    const dir = await tempDir();
    const dev = join(dir, 'null');
    expect(spawnSync('mknod', ['-m', '666', dev, 'c', '1', '3']).status).toBe(0);
    await writeFileAtomic(dev, 'discarded');
    expect((await lstat(dev)).isCharacterDevice()).toBe(true);
    // And through a symlink to it, as /dev/stdout is one.
    await symlink(dev, join(dir, 'out'));
    await writeFileAtomic(join(dir, 'out'), 'discarded');
    expect((await lstat(dev)).isCharacterDevice()).toBe(true);
    expect((await lstat(join(dir, 'out'))).isSymbolicLink()).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['null', 'out']);
  });

  it('refuses a folder and a path through a file, naming them (WRITE_FAILED)', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'folder'));
    await expect(writeFileAtomic(join(dir, 'folder'), 'x')).rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('it is a folder') });
    await writeFile(join(dir, 'afile'), 'keep');
    const err = await writeFileAtomic(join(dir, 'afile', 'x.json'), 'x').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'WRITE_FAILED',
      exitCode: 5,
      message: `cannot write ${join(dir, 'afile', 'x.json')}: ${join(dir, 'afile')} is a file, not a folder`,
    });
    expect(await readFile(join(dir, 'afile'), 'utf8')).toBe('keep');
  });

  it('outputTarget resolves a link to a regular file to its real path', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a'), '');
    await symlink('a', join(dir, 'b'));
    expect(await outputTarget(join(dir, 'b'))).toEqual({ path: join(dir, 'a'), direct: false });
  });
});

describe('checkWritableFolderOf', () => {
  it('passes for a path whose folders do not exist yet under a writable one', async () => {
    const dir = await tempDir();
    await expect(checkWritableFolderOf(join(dir, 'x', 'y', 'z'), '--out')).resolves.toBeUndefined();
  });

  it('names a file in the way', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'afile'), '');
    await expect(checkWritableFolderOf(join(dir, 'afile', 'sub'), '--out')).rejects.toMatchObject({
      code: 'WRITE_FAILED',
      message: expect.stringContaining(`${join(dir, 'afile')} is a file, not a folder`),
    });
  });
});

describe('sweepStaleTemps', () => {
  it('removes only our own leftovers for that path, and only those older than this process', async () => {
    const dir = await tempDir();
    const old = new Date(Date.now() - 3600_000);
    const stale = ['.x.tmp-0123456789ab', '..x.tmp-0123456789ab.tmp-ba9876543210', '.x.old-123-1700000000000', '.x.tar.tmp-aaaaaaaaaaaa'];
    const kept = ['.x.tmp-notours', '.y.tmp-0123456789ab', 'x.tmp-0123456789ab', '.x.tmp-0123456789abc'];
    for (const n of [...stale, ...kept]) {
      await mkdir(join(dir, n));
      await writeFile(join(dir, n, 'blob'), 'data');
      await utimes(join(dir, n), old, old);
    }
    // Ours by name but made after this process started: a run in progress; kept.
    await writeFile(join(dir, '.x.tmp-ffffffffffff'), 'in progress');
    await mkdir(join(dir, 'x')); // the bundle in place: an .old- copy of it is a leftover
    const removed = [...(await sweepStaleTemps(join(dir, 'x'))), ...(await sweepStaleTemps(join(dir, 'x.tar')))];
    expect(removed.sort()).toEqual(stale.map((n) => join(dir, n)).sort());
    expect((await readdir(dir)).sort()).toEqual([...kept, '.x.tmp-ffffffffffff', 'x'].sort());
  });

  it('a build killed between its two renames left no bundle but .old-: that, the only copy, goes back in place', async () => {
    const dir = await tempDir();
    const old = new Date(Date.now() - 3600_000);
    for (const n of ['.x.old-123-1700000000000', '.x.old-124-1700000005000']) {
      await mkdir(join(dir, n));
      await writeFile(join(dir, n, 'bundle.json'), n);
      await utimes(join(dir, n), old, old);
    }
    expect(await sweepStaleTemps(join(dir, 'x'))).toEqual([join(dir, '.x.old-123-1700000000000')]);
    expect(await readFile(join(dir, 'x', 'bundle.json'), 'utf8')).toBe('.x.old-124-1700000005000');
    expect((await readdir(dir)).sort()).toEqual(['x']);
  });
});
