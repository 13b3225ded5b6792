import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { HttpClient } from './http.js';
import { type Expectation, type OpenAt, mismatchHint } from '../store/store.js';
import { type ChunkPump, isPump } from '../store/body.js';
import { IntegrityError, UpstreamError } from '../util/errors.js';
import { withRemote } from './part-threads.js';

/** What fetching needs from its caller: the bounded client and the one Ctrl-C signal (not a build context). */
export interface FetchIo {
  http: HttpClient;
  signal: AbortSignal;
}

/** Opener for an artifact at an http(s) or file: URL, resuming at an offset (HTTP Range or a file seek). */
export function openUrl(url: string, size: number, subject: string, ctx: FetchIo, pinnedBy?: Expectation['pinnedBy']): OpenAt {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    return async (offset, end) => {
      await localSize(path, subject);
      const to = end !== undefined ? { end: end - 1 } : {};
      return { startedAt: offset, body: createReadStream(path, { start: offset, ...to, highWaterMark: 1 << 20 }) };
    };
  }
  const openAt: OpenAt = async (offset, end) => {
    const r = await ctx.http.get(url, { offset, ...(end !== undefined ? { end } : {}), signal: ctx.signal, maxLength: size, subject }).catch((err: unknown) => {
      throw lockedSizeError(err, size, subject, pinnedBy);
    });
    return { startedAt: r.startedAt, body: mapTooLarge(r.body, size, subject, pinnedBy) };
  };
  return withRemote(openAt, url);
}

/**
 * More bytes than the lock says is an integrity failure of that artifact (exit 4), not an upstream one: it
 * must also drop the partial file, which the store does for IntegrityErrors only.
 */
function lockedSizeError(err: unknown, size: number, subject: string, pinnedBy?: Expectation['pinnedBy']): unknown {
  if (err instanceof UpstreamError && err.code === 'TOO_LARGE') {
    return new IntegrityError({
      code: 'SIZE_MISMATCH',
      message: `${subject}: the server sends more than the locked ${size} bytes`,
      subject,
      expected: String(size),
      found: `> ${size}`,
      hint: mismatchHint(pinnedBy, false),
      cause: err,
    });
  }
  return err;
}

function mapTooLarge(body: AsyncIterable<Uint8Array>, size: number, subject: string, pinnedBy?: Expectation['pinnedBy']): AsyncIterable<Uint8Array> {
  const mapped = mapTooLargeIter(body, size, subject, pinnedBy);
  if (!isPump(body)) return mapped;
  // The pump too (store/body.ts), so a build's download keeps its 'data' handler.
  const pump: ChunkPump['pump'] = (onChunk) =>
    body.pump(onChunk).catch((err: unknown) => {
      throw lockedSizeError(err, size, subject, pinnedBy);
    });
  return { [Symbol.asyncIterator]: () => mapped[Symbol.asyncIterator](), pump } as AsyncIterable<Uint8Array> & ChunkPump;
}

async function* mapTooLargeIter(body: AsyncIterable<Uint8Array>, size: number, subject: string, pinnedBy?: Expectation['pinnedBy']): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw lockedSizeError(err, size, subject, pinnedBy);
  }
}

/** A small document (an index, a Release file) at an http(s) or file: URL. */
export async function fetchSmall(url: string, maxLength: number, subject: string, ctx: FetchIo): Promise<Buffer> {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    const size = await localSize(path, subject);
    if (size > maxLength) {
      throw new UpstreamError({ code: 'TOO_LARGE', message: `${subject}: ${path} is larger than ${maxLength} bytes`, subject });
    }
    return readFile(path);
  }
  return ctx.http.getBytes(url, { signal: ctx.signal, maxLength, subject });
}

export async function localSize(path: string, subject: string): Promise<number> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a regular file');
    return st.size;
  } catch (err) {
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: `${subject}: cannot read ${path} (${err instanceof Error ? err.message : String(err)})`,
      subject,
      hint: 'check the path in the manifest; relative paths are relative to the manifest file',
    });
  }
}
