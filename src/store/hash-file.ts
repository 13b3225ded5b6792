import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { type Digest, digestOf } from './digest.js';

/**
 * Read buffers of hashFile, reused across calls: a stream gave each 1 MiB chunk a Buffer of its own, and a
 * build that proves 2.7 GB of copies left tens of MB of them waiting for the garbage collector.
 */
const spareBuffers: Buffer[] = [];
const HASH_READ = 256 * 1024;

/** A file's sha256 digest and size, read with reused buffers. */
export async function hashFile(path: string): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const buf = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(HASH_READ);
  try {
    const fh = await open(path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        size += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } finally {
    spareBuffers.push(buf);
  }
  return { digest: digestOf(hash.digest('hex')), size };
}
