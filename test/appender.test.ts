import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Appender } from '../src/util/appender.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-appender-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Appender (the served pull writes its .part through it)', () => {
  it('writes every chunk in order in batches, and the file is a whole prefix of what was appended at every moment', async () => {
    const file = join(dir, 'a.part');
    const fh = await open(file, 'w');
    const chunks = Array.from({ length: 120 }, (_, i) => randomBytes(1 + ((i * 7919) % 40_000)));
    const all = Buffer.concat(chunks);
    const out = new Appender(fh, 0, { batch: 256 * 1024, max: 1024 * 1024 });
    let appended = 0;
    for (const c of chunks) {
      await out.append(c);
      appended += c.length;
      const now = await readFile(file);
      expect(now.length).toBeLessThanOrEqual(appended);
      expect(now.equals(all.subarray(0, now.length))).toBe(true);
    }
    await out.end();
    await fh.close();
    expect(out.written).toBe(all.length);
    expect((await readFile(file)).equals(all)).toBe(true);
  });

  it('resumes at an offset of an existing file (r+), and a failed write is thrown, not swallowed', async () => {
    const file = join(dir, 'b.part');
    const head = randomBytes(1000);
    const tail = randomBytes(5000);
    const w = await open(file, 'w');
    await w.write(head);
    await w.close();
    const fh = await open(file, 'r+');
    const out = new Appender(fh, head.length, { batch: 1024, max: 4096 });
    for (let i = 0; i < tail.length; i += 700) await out.append(tail.subarray(i, i + 700));
    await out.end();
    await fh.close();
    expect((await readFile(file)).equals(Buffer.concat([head, tail]))).toBe(true);
    expect((await stat(file)).size).toBe(head.length + tail.length);
    // A handle opened read-only: the write fails (EBADF) and end() (or a later append) says so.
    const ro = await open(file, 'r');
    const bad = new Appender(ro, 0, { batch: 1, max: 1 << 20 });
    await bad.append(Buffer.from('x')).catch(() => undefined);
    await expect(bad.end()).rejects.toThrow(/EBADF|bad file/i);
    await ro.close();
  });
});
