import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ChunkReader, stopChild } from './chunk-reader.js';
import { type FoundDoc, walkTar } from './deb-blocks.js';
import { onPath } from './deb-native.js';
import { launch } from '../../util/launcher.js';

/**
 * The copyright file (or the doc folder's link) of a .deb read the lean way, for the one read a build does of most
 * .debs (issue #14: this read was ~7 s of a cold build's CPU, 286 .debs for nvidia-debian12):
 * - one decompressing program instead of `dpkg-deb --fsys-tarfile` and the child it forks: `xz -dc --single-stream`
 *   or `zstd -dcq` reading the .deb from the data member's first byte (no byte of it passes through node), started
 *   by the shared shell (util/launcher.ts, fed by `tail -c +N`) or else by this process (its stdin the file,
 *   opened and moved there), gzip in-process (zlib), an uncompressed member as it is;
 * - deb-blocks.ts's tar walker on the output: 512-byte headers looked at, contents passed over without a copy
 *   (node-tar parsed every byte on the main thread);
 * - the program stopped once the file is read.
 * Whatever the walker does not read exactly as node-tar does, or an archive where neither is found (a .deb with no
 * copyright file: node-tar reads on past a zero block, the walker does not), is undefined: the caller then reads
 * it the full way (deb-doc.ts), whose answer stands.
 */

interface Member {
  name: string;
  start: number;
  size: number;
}

/** The program for an `.xz` / `.zst` member and its arguments (the member's end is where the stream ends). */
function programFor(ext: string): { name: string; args: string[] } | undefined {
  if (ext === '.xz') return { name: 'xz', args: ['-dc', '--single-stream'] };
  if (ext === '.zst') return { name: 'zstd', args: ['-dcq'] };
  return undefined;
}

/** The program decompressing the member, its stdin the .deb at the member's first byte; undefined without one. */
async function viaProgram(file: string, m: Member, prog: { name: string; args: string[] }): Promise<ChunkReader | undefined> {
  const path = onPath(prog.name);
  if (!path) return undefined;
  // Started by the shared shell (util/launcher.ts): a spawn from this process costs ~12 ms of the main thread.
  const job = await launch([path, ...prog.args], { path: file, offset: m.start });
  if (job) return new ChunkReader(job.stdout, 0, () => job.stop());
  const fh = await open(file, 'r');
  let handed = false;
  try {
    // Moves the file's offset (shared with the child's stdin) to the member: the ar headers and the control member.
    const buf = Buffer.allocUnsafe(Math.min(m.start, 1 << 16));
    for (let left = m.start; left > 0;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(left, buf.length), null);
      if (bytesRead === 0) return undefined;
      left -= bytesRead;
    }
    const child = spawn(path, prog.args, { env: { ...process.env, LC_ALL: 'C' }, stdio: [fh.fd, 'pipe', 'ignore'] });
    handed = true;
    // The descriptor stays open until the child has gone: closed as soon as spawn returned, on a busy machine the
    // child sometimes read nothing from it (an empty stdout, exit 0: the lean read fell back to the full one, and
    // test/apt-deb-lean.test.ts failed under load; a bare open/spawn/close loop reproduced it).
    let closed = false;
    const release = () => {
      if (closed) return;
      closed = true;
      fh.close().catch(() => undefined);
    };
    child.once('close', release);
    child.on('error', release); // a failed start ends the output: reads come back short
    return new ChunkReader(child.stdout!, 0, () => stopChild(child));
  } finally {
    if (!handed) await fh.close();
  }
}

/** A stream read in this process (gzip through zlib, or none), as a reader. */
function inProcess(file: string, m: Member, gzip: boolean): ChunkReader {
  const raw = createReadStream(file, { start: m.start, end: m.start + m.size - 1, highWaterMark: 1 << 16 });
  const out: Readable = gzip ? raw.pipe(createGunzip({ chunkSize: 1 << 16 })) : raw;
  return new ChunkReader(out, 0, () => {
    raw.destroy();
    out.destroy();
    return Promise.resolve();
  });
}

/** The doc of `dir`/`path` in the data member `m` of the .deb at `file`, read lean; undefined to read it the full way. */
export async function docLean(file: string, m: Member, dir: string, path: string, maxText: number): Promise<FoundDoc | undefined> {
  if (m.size === 0) return undefined;
  const ext = m.name.slice('data.tar'.length);
  const prog = programFor(ext);
  const r = prog ? await viaProgram(file, m, prog) : ext === '.gz' || ext === '' ? inProcess(file, m, ext === '.gz') : undefined;
  return r && walkTar(r, undefined, dir, path, maxText);
}
