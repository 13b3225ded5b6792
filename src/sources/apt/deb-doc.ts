import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { Parser, type ReadEntry } from 'tar';
import { passedThrough } from '../../util/gc.js';
import { docByBlocks } from './deb-blocks.js';
import { docLean } from './deb-lean.js';
import { nativeTar } from './deb-native.js';
import { xzDecompressed } from './xz.js';

/**
 * What a .deb says about its licence, read from its `usr/share/doc/<package>/copyright` (Debian Policy §12.5).
 * The .deb is an ar archive (deb(5)): `debian-binary`, `control.tar.*`, `data.tar.*`; the data member is
 * streamed out of the file (never read whole: a CUDA .deb is gigabytes) through its decompressor (gzip, xz or
 * zstd, as dpkg-deb(1) -Z writes them) and node-tar's parser, and the stream stops once the copyright file
 * has been read. Most .debs are answered before that by the lean read (deb-lean.ts: one decompressor, a header
 * walker) or the block reader (deb-blocks.ts); this read stands for whatever those leave.
 */
export type DebDoc =
  /** The copyright file: its sha256 (over every byte) and its text (the first MAX_TEXT bytes). */
  | { kind: 'copyright'; path: string; sha256: string; text: string }
  /** `usr/share/doc/<package>` is a symlink to another package's doc folder (Policy §12.5 allows it). */
  | { kind: 'link'; path: string; target: string }
  | { kind: 'missing'; path: string }
  /** The .deb could not be read (a member format dpkg no longer writes, a broken archive): why. */
  | { kind: 'unreadable'; path: string; reason: string };

const MAX_TEXT = 4 << 20;

interface Member {
  name: string;
  start: number;
  size: number;
}

/** The data.tar member of an ar archive at `file`, read header by header (60 bytes each, 2-byte aligned). */
async function dataMember(file: string): Promise<Member | string> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const magic = Buffer.alloc(8);
    await fh.read(magic, 0, 8, 0);
    if (magic.toString('latin1') !== '!<arch>\n') return 'not an ar archive';
    const h = Buffer.alloc(60);
    for (let off = 8; off + 60 <= size;) {
      await fh.read(h, 0, 60, off);
      if (h.subarray(58, 60).toString('latin1') !== '`\n') return `bad ar header at byte ${off}`;
      const name = h.subarray(0, 16).toString('latin1').trimEnd().replace(/\/$/, '');
      const len = Number(h.subarray(48, 58).toString('latin1').trim());
      if (!Number.isSafeInteger(len) || len < 0 || off + 60 + len > size) return `truncated ar member ${name}`;
      if (name.startsWith('data.tar')) return { name, start: off + 60, size: len };
      off += 60 + len + (len & 1);
    }
    return 'no data.tar member';
  } finally {
    await fh.close();
  }
}

function zstdStream(): Transform {
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        z.push(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        z.push(new Uint8Array(0), true);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  const z = new ZstdDecompress((data) => {
    t.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return t;
}

/** The decompressed data.tar, or why it cannot be read. */
function decompressed(file: string, m: Member): Readable | string {
  if (m.size === 0) return 'empty data.tar member';
  const raw = createReadStream(file, { start: m.start, end: m.start + m.size - 1, highWaterMark: 1 << 16 });
  const ext = m.name.slice('data.tar'.length);
  if (ext === '') return raw;
  if (ext === '.gz') return raw.pipe(createGunzip({ chunkSize: 1 << 16 }));
  if (ext === '.xz') return xzDecompressed(raw);
  if (ext === '.zst') return raw.pipe(zstdStream());
  raw.destroy();
  return `${m.name}: a member compression this reader does not take (gz, xz, zst and none are)`;
}

/** `./usr/share/doc/x` and `usr/share/doc/x` alike. */
function plain(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

interface TarRead {
  found?: DebDoc;
  /** node-tar's complaint about the archive, or the stream's error. */
  error?: string;
}

/** Reads the tar `data` until `dir`'s link or `path` has been read (the caller then stops the stream). */
async function docFromTar(data: AsyncIterable<unknown>, dir: string, path: string): Promise<TarRead> {
  let found: DebDoc | undefined;
  const parser = new Parser({ strict: false });
  parser.on('entry', (e: ReadEntry) => {
    const p = plain(e.path);
    if (!found && p === dir && e.type === 'SymbolicLink' && e.linkpath) {
      found = { kind: 'link', path, target: e.linkpath };
    } else if (!found && p === path && (e.type === 'File' || e.type === 'OldFile')) {
      const h = createHash('sha256');
      const parts: Buffer[] = [];
      let kept = 0;
      e.on('data', (c: Buffer) => {
        h.update(c);
        if (kept < MAX_TEXT) parts.push(c.subarray(0, MAX_TEXT - kept));
        kept += c.length;
      });
      e.on('end', () => {
        found = { kind: 'copyright', path, sha256: h.digest('hex'), text: Buffer.concat(parts).toString('utf8') };
      });
      return;
    }
    e.resume();
  });
  let warned: string | undefined;
  parser.on('warn', (code: string, message: string | Error) => {
    if (code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') warned ??= typeof message === 'string' ? message : message.message;
  });
  try {
    for await (const chunk of data) {
      parser.write(chunk as Buffer);
      // Each pipe or decompressor chunk is a Buffer of its own, dead once parsed: see util/gc.ts.
      passedThrough((chunk as Buffer).length);
      if (found) return { found };
    }
    parser.end();
  } catch (err) {
    if (!found) return { error: (err as Error).message };
  }
  return found ? { found } : warned ? { error: warned } : {};
}

/**
 * The doc of the tar a program of the build host decompresses (deb-native.ts); undefined when there is no such
 * program or it failed (the JS reader then says why, in its own words, or reads what the program would not).
 */
async function viaNative(file: string, m: Member, dir: string, path: string): Promise<DebDoc | undefined> {
  const t = nativeTar(file, m);
  if (!t) return undefined;
  let r: TarRead;
  try {
    r = await docFromTar(t.stream, dir, path);
  } finally {
    // Stopping the program once the file is read: the rest of a large data.tar is never decompressed.
    await t.stop();
  }
  if (r.found) return r.found;
  if (r.error || (await t.result())) return undefined;
  return { kind: 'missing', path };
}

/** Read natively: off makes the JS decompressors read it (the tests of both ways). */
export interface ReadDocOptions {
  native?: boolean;
  /** Off: a multi-block data.tar.xz is read whole too (deb-blocks.ts; the tests compare both). */
  blocks?: boolean;
  /** Off: no lean read (deb-lean.ts): dpkg-deb and node-tar read what the block reader does not answer (the tests compare both). */
  lean?: boolean;
}

/** The copyright file (or the doc folder's link) of `pkg` in the .deb at `file`. */
export async function readDebDoc(file: string, pkg: string, o: ReadDocOptions = {}): Promise<DebDoc> {
  const dir = `usr/share/doc/${pkg}`;
  const path = `${dir}/copyright`;
  const m = await dataMember(file);
  if (typeof m === 'string') return { kind: 'unreadable', path, reason: m };
  if (m.size > 0 && o.native !== false) {
    // A data.tar.xz of several xz blocks: only those holding tar headers and the file are decompressed.
    const skipped = m.name === 'data.tar.xz' && o.blocks !== false ? await docByBlocks(file, m, dir, path, MAX_TEXT) : undefined;
    if (skipped) return skipped;
    const lean = o.lean !== false ? await docLean(file, m, dir, path, MAX_TEXT) : undefined;
    if (lean) return lean;
    const doc = await viaNative(file, m, dir, path);
    if (doc) return doc;
  }
  const data = decompressed(file, m);
  if (typeof data === 'string') return { kind: 'unreadable', path, reason: data };
  // Leaving the loop destroys the stream: the rest of a large data.tar is never decompressed.
  const r = await docFromTar(data, dir, path);
  data.destroy();
  if (r.found) return r.found;
  if (r.error) return { kind: 'unreadable', path, reason: `${m.name}: ${r.error}` };
  return { kind: 'missing', path };
}
