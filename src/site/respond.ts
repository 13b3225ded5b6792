import { open } from 'node:fs/promises';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Segment } from '../bundle/hashpool.js';
import type { LoadedBundle } from '../bundle/load.js';
import type { SiteEntry } from './plan.js';
import { parseRange } from './request.js';

/**
 * An entry ready to answer: its headers made once at start (an index page then costs a map lookup and one write),
 * its bytes in memory (small files) or where they lie in the bundle (blobs, read in place).
 */
export interface Prepared {
  entry: SiteEntry;
  etag: string;
  head: OutgoingHttpHeaders;
  text?: Buffer;
  segments?: readonly Segment[];
}

/** On every answer. Given in writeHead's one object (never setHeader per request: that merge is the slow path). */
export const BASE_HEADERS = { Server: 'vault-bundle', 'X-Content-Type-Options': 'nosniff' } as const;

/** Each answer's Content-Length, for the access log (writeHead's object is not kept where getHeader finds it). */
export const bodyLength = new WeakMap<ServerResponse, number>();

export function prepare(e: SiteEntry, b: LoadedBundle): Prepared {
  const etag = `"${e.etag}"`;
  const head = { ...BASE_HEADERS, 'Content-Type': e.type, ETag: etag, 'Accept-Ranges': 'bytes', ...(e.headers ?? {}), 'Content-Length': e.size };
  return 'text' in e.source
    ? { entry: e, etag, head, text: e.source.text }
    : { entry: e, etag, head, segments: b.reader.entries.get(e.source.bundle)!.job.segments };
}

export function plain(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(`${text}\n`);
  bodyLength.set(res, body.length);
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** GET or HEAD of an entry: If-None-Match (304), one Range (206, 416), else the whole body. `type` overrides its Content-Type. */
export async function send(req: IncomingMessage, res: ServerResponse, p: Prepared, type?: string): Promise<void> {
  const head = type ? { ...p.head, 'Content-Type': type } : p.head;
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((v) => v.trim().replace(/^W\//, '') === p.etag || v.trim() === '*')) {
    const { 'Content-Length': _, ...rest } = head;
    res.writeHead(304, rest);
    return void res.end();
  }
  const size = p.entry.size;
  const range = req.headers.range && (!req.headers['if-range'] || req.headers['if-range'] === p.etag) ? parseRange(req.headers.range, size) : undefined;
  if (range === 'unsatisfiable') return plain(res, 416, 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = Math.max(0, end - start + 1);
  bodyLength.set(res, length);
  res.writeHead(range ? 206 : 200, range ? { ...head, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': length } : head);
  if (req.method === 'HEAD' || length === 0) return void res.end();
  if (p.text) return void res.end(range ? p.text.subarray(start, end + 1) : p.text);
  if (await streamSegments(res, slice(p.segments!, start, length))) res.end();
}

/** The part [start, start + length) of a body held in segments. */
function slice(segs: readonly Segment[], start: number, length: number): Segment[] {
  const out: Segment[] = [];
  let skip = start;
  let left = length;
  for (const s of segs) {
    if (left <= 0) break;
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    const n = Math.min(s.length - skip, left);
    out.push({ file: s.file, offset: s.offset + skip, length: n });
    left -= n;
    skip = 0;
  }
  return out;
}

// Blobs go out through a pool of read buffers: each answer in flight holds one buffer, read into, written,
// and read into again once the socket took it (no fresh 256 KiB per chunk for the GC to find later). With 64
// clients on big blobs that is 16 MiB, reused, instead of two highWaterMarks per connection and their garbage.
const CHUNK = 256 * 1024;
const POOL_MAX = 64;
const pool: Buffer[] = [];

/** Writes the segments' bytes to `res`; false when the client went away first (then nothing more is sent). */
async function streamSegments(res: ServerResponse, segs: readonly Segment[]): Promise<boolean> {
  const buf = pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
  for (const s of segs) {
    const fh = await open(s.file, 'r');
    try {
      for (let pos = s.offset, left = s.length; left > 0;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, left), pos);
        if (bytesRead === 0) throw new Error(`${s.file}: shorter than the bundle says`);
        // A buffer the socket may still hold is never reused: on a lost client it is left to the GC.
        if (!(await written(res, buf.subarray(0, bytesRead)))) return false;
        pos += bytesRead;
        left -= bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
  if (pool.length < POOL_MAX) pool.push(buf);
  return true;
}

/** Resolves true once the socket took `chunk` (its callback), false if the response closed before. */
function written(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((ok) => {
    const onClose = () => ok(false);
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.off('close', onClose);
      ok(!err && !res.destroyed);
    });
  });
}
