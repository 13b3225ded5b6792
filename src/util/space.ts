import { stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatBytes } from './format.js';
import { LocalError } from './errors.js';

/** Bytes something will write under `path` (it need not exist yet). */
export interface SpaceNeed {
  path: string;
  bytes: number;
  what: string;
}

export interface SpaceCheck {
  /** The filesystem, named by the first path that needs it. */
  path: string;
  need: number;
  free: number;
  ok: boolean;
  what: string[];
}

/** The nearest folder that exists: where the filesystem is asked. */
async function existingAncestor(path: string): Promise<string> {
  let p = resolve(path);
  for (;;) {
    if (
      await stat(p).then(
        () => true,
        () => false,
      )
    )
      return p;
    const up = dirname(p);
    if (up === p) return p;
    p = up;
  }
}

/** Whether two paths (which need not exist yet) are on one filesystem: hard links work between them. */
export async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([existingAncestor(a), existingAncestor(b)].map(async (p) => (await stat(await p)).dev));
  return da === db;
}

/**
 * Adds up what will be written per filesystem (by device), plus headroom (5%, at least 64 MiB), and compares
 * it with the space free to this user there. Throws NO_SPACE naming every filesystem that is short, with the
 * parts of the need, unless `o.throw` is false.
 */
export async function checkSpace(needs: readonly SpaceNeed[], o: { throw?: boolean } = {}): Promise<SpaceCheck[]> {
  const byDev = new Map<number, SpaceCheck>();
  for (const n of needs) {
    if (n.bytes <= 0) continue;
    const at = await existingAncestor(n.path);
    const dev = (await stat(at)).dev;
    let c = byDev.get(dev);
    if (!c) {
      const fs = await statfs(at);
      c = { path: n.path, need: 0, free: fs.bavail * fs.bsize, ok: true, what: [] };
      byDev.set(dev, c);
    }
    c.need += n.bytes;
    c.what.push(`${n.what} ${formatBytes(n.bytes)}`);
  }
  const out = [...byDev.values()];
  for (const c of out) {
    c.need += Math.max(Math.ceil(c.need * 0.05), 64 * 1024 ** 2);
    c.ok = c.need <= c.free;
  }
  const short = out.filter((c) => !c.ok);
  if (short.length > 0 && o.throw !== false) {
    throw new LocalError({
      code: 'NO_SPACE',
      message: short
        .map(
          (c) => `not enough free space for ${c.path}: needs ${formatBytes(c.need)} (${c.what.join(', ')}, with headroom), ${formatBytes(c.free)} free there`,
        )
        .join('\n'),
      subject: short[0]!.path,
      hint: 'free space on that filesystem, or choose another location (--out, --cache-dir, TMPDIR)',
    });
  }
  return out;
}
