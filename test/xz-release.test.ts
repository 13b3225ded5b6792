import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import xz from 'xz-decompress';
import { describe, expect, it } from 'vitest';
import { releaseXz, xzDecompressed } from '../src/sources/apt/xz.js';
import { phaseDone } from '../src/util/gc.js';
import { tempDir } from './helpers/tmp.js';

// Issue #14 (build's peak RSS): xz-decompress keeps one WebAssembly instance whose memory only grows (to the
// largest dictionary decoded: 64 MiB for xz -9); phaseDone() drops it, and a stream running meanwhile goes on.
const statics = () => xz.XzReadableStream as unknown as { _moduleInstance?: { exports: { memory: { buffer: ArrayBuffer } } } };

async function digestOf(r: Readable, midway?: () => void): Promise<string> {
  const h = createHash('sha256');
  let first = true;
  for await (const c of r) {
    h.update(c as Buffer);
    if (first) midway?.();
    first = false;
  }
  return h.digest('hex');
}

async function xzFile(dir: string, name: string, data: Buffer, level: string): Promise<string> {
  const raw = join(dir, name);
  await writeFile(raw, data);
  execFileSync('xz', [level, '-k', '-T1', raw]);
  return `${raw}.xz`;
}

describe('xz decompression memory', () => {
  it('gives the WebAssembly memory of a 64 MiB dictionary back at phaseDone, and decodes again after', async () => {
    const dir = await tempDir('xz-release');
    // xz -9 writes a 64 MiB dictionary size into the header, whatever the input's size; the decoder allocates it.
    const data = randomBytes(1 << 20);
    const want = createHash('sha256').update(data).digest('hex');
    const file = await xzFile(dir, 'a', data, '-9');
    expect(await digestOf(xzDecompressed(createReadStream(file)))).toBe(want);
    expect(statics()._moduleInstance!.exports.memory.buffer.byteLength).toBeGreaterThan(60 << 20);
    phaseDone();
    expect(statics()._moduleInstance).toBeUndefined();
    // Collected: the external memory no longer holds it (V8 unmaps wasm memory when its instance is collected).
    await new Promise((r) => setTimeout(r, 50));
    phaseDone();
    expect(process.memoryUsage().external).toBeLessThan(40 << 20);
    expect(await digestOf(xzDecompressed(createReadStream(file)))).toBe(want);
  });

  it('finishes a stream that was running when the instance was dropped, and one started after it', async () => {
    const dir = await tempDir('xz-release-mid');
    const data = randomBytes(2 << 20);
    const want = createHash('sha256').update(data).digest('hex');
    const file = await xzFile(dir, 'b', data, '-6');
    let dropped = false;
    const first = digestOf(xzDecompressed(createReadStream(file, { highWaterMark: 1 << 14 })), () => {
      dropped = statics()._moduleInstance !== undefined;
      releaseXz();
    });
    const second = digestOf(xzDecompressed(createReadStream(file)));
    expect(await Promise.all([first, second])).toEqual([want, want]);
    expect(dropped).toBe(true);
    releaseXz();
    releaseXz(); // twice: nothing to drop the second time
    expect(statics()._moduleInstance).toBeUndefined();
  });
});
