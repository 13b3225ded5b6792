import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const execFile = promisify(execFileCb);

/** Debian's chromium (apt-get install chromium), or undefined. */
export const CHROMIUM = (() => {
  const r = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
})();

/** Headless Chromium with a throwaway profile in `dir`; returns stdout (the DOM with --dump-dom). */
export async function chromium(dir: string, args: string[]): Promise<string> {
  const { stdout } = await execFile(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', `--user-data-dir=${join(dir, 'profile')}`, ...args],
    { timeout: 60_000, maxBuffer: 1 << 26 },
  );
  return stdout;
}

/** Width, height and inflated pixel rows of a PNG (8-bit RGB or RGBA, as Chromium writes). */
export function png(buf: Buffer): { width: number; height: number; raw: Buffer } {
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.subarray(at + 4, at + 8).toString('latin1');
    const data = buf.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  return { width, height, raw: inflateSync(Buffer.concat(idat)) };
}
