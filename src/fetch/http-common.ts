import { type Readable, finished } from 'node:stream';
import type { ChunkPump } from '../store/body.js';
import { UpstreamError } from '../util/errors.js';

export interface GetOptions {
  /** Ask for bytes from this offset on (HTTP Range); the answer says where the body really starts. */
  offset?: number;
  /** With offset: ask only for the bytes before this one (exclusive); a server may still send more. */
  end?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Refuse a body longer than this (Content-Length, or counted while streaming). */
  maxLength: number;
  /** Who asked, for error messages (an artifact id). */
  subject: string;
}

export interface GetResult {
  status: number;
  /** Byte offset the body starts at: the asked offset for a 206, 0 when the server ignored Range. */
  startedAt: number;
  /** Length of the whole file when the server said it. */
  totalSize: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
}

/** Error codes of undici and node that mean "try again": the connection broke, nothing was wrong with us. */
const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
/** The same codes, for the ranged-download threads (fetch/part-threads.ts), which retry what the main thread would. */
export const TRANSIENT_CODES: ReadonlySet<string> = TRANSIENT;

export function tooLarge(url: string, o: GetOptions, size: number | undefined): UpstreamError {
  return new UpstreamError({
    code: 'TOO_LARGE',
    message: `${o.subject}: ${redact(url)} is larger than the ${o.maxLength} bytes allowed${size ? ` (${size})` : ''}`,
    subject: o.subject,
    hint: 'the file is not the one that was locked; check the URL and run "vault-bundle lock" again',
  });
}

export function isTransient(err: unknown): boolean {
  if (err instanceof UpstreamError) {
    if (err.code === 'NETWORK' || err.code === 'TIMEOUT') return true;
    if (err.code === 'HTTP_STATUS') {
      const status = (err.cause as { status?: number } | undefined)?.status ?? 0;
      return status >= 500 || status === 408 || status === 429;
    }
  }
  return false;
}

export function networkError(err: unknown, url: string, subject: string): Error {
  if (err instanceof UpstreamError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const code = findCode(err);
  const timeout = code !== undefined && /TIMEOUT|ETIMEDOUT/.test(code);
  if (code !== undefined && !TRANSIENT.has(code) && code !== 'ENOTFOUND') return err as Error;
  return new UpstreamError({
    code: timeout ? 'TIMEOUT' : 'NETWORK',
    message: `${subject}: ${timeout ? 'timed out' : 'connection failed'} fetching ${redact(url)} (${code ?? String(err)})`,
    subject,
    hint: 'check the network or proxy settings (HTTPS_PROXY, NO_PROXY); a rerun resumes where this stopped',
    cause: err,
  });
}

function findCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'object' && 'code' in e && typeof e.code === 'string') {
      return (e as { code: string }).code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** URLs may carry credentials (user:token@host, ?token=); never print them. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    for (const k of [...u.searchParams.keys()]) if (/token|key|sig|auth/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return url;
  }
}

/** The body, refused past `max` bytes, with network errors mapped; one generator (one promise per chunk). */
export async function* capped(body: AsyncIterable<Uint8Array>, max: number, url: string, o: GetOptions): AsyncIterable<Uint8Array> {
  let n = 0;
  try {
    for await (const c of body) {
      n += c.byteLength;
      if (n > max) throw tooLarge(url, o, undefined);
      yield c;
    }
  } catch (err) {
    // Once the signal aborted, its reason is what the reader gets (not the connection reset the abort causes).
    throw networkError(o.signal?.aborted ? (o.signal.reason ?? err) : err, url, o.subject);
  }
}

/**
 * capped(), and a ChunkPump (store/body.ts) over the same stream: its chunks handed to a callback from a 'data'
 * handler, the stream paused while the callback's promise runs; the same ceiling and error mapping, without a
 * promise and two async-iterator steps per chunk (issue #14: the download's main thread). Errors the callback
 * throws reach the caller as they are (only the stream's own are network errors).
 */
export function cappedBody(body: Readable, max: number, url: string, o: GetOptions): AsyncIterable<Uint8Array> & ChunkPump {
  return {
    [Symbol.asyncIterator]: () => capped(body, max, url, o)[Symbol.asyncIterator](),
    pump: (onChunk) =>
      new Promise<void>((resolve, reject) => {
        let n = 0;
        let settled = false;
        let pending: Promise<void> | undefined;
        const stop = (err?: Error) => {
          if (settled) return;
          settled = true;
          body.off('data', onData);
          cleanup();
          if (err === undefined) return resolve();
          body.on('error', () => undefined); // whatever the stream says once it is given up is not heard
          body.destroy();
          reject(err); // the stream's error (mapped) or the callback's, as thrown
        };
        const onData = (c: Buffer) => {
          n += c.byteLength;
          if (n > max) return stop(tooLarge(url, o, undefined));
          let wait: Promise<void> | undefined;
          try {
            wait = onChunk(c);
          } catch (err) {
            return stop(err as Error);
          }
          if (!wait) return;
          body.pause();
          pending = wait.then(
            () => {
              pending = undefined;
              if (!settled) body.resume();
            },
            (err: unknown) => stop(err as Error),
          );
        };
        // A chunk still going into the writer finishes first: the caller cleans up after a settled pump only.
        const cleanup = finished(body, (err) => {
          const end = () => (err ? stop(networkError(o.signal?.aborted ? (o.signal.reason ?? err) : err, url, o.subject)) : stop());
          if (pending) void pending.then(end);
          else end();
        });
        body.on('data', onData);
      }),
  };
}

/**
 * What an answer to a GET (with `o.offset`) means: where its body starts and the whole file's size; 'restart'
 * when the Range answer cannot be used and the GET should be asked again from 0; an error to throw.
 */
export function answered(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  url: string,
  o: GetOptions,
): { status: number; startedAt: number; totalSize: number | undefined } | 'restart' | UpstreamError {
  const offset = o.offset ?? 0;
  // What we hold is already the whole file (or more): restart so the store re-checks it from 0.
  if (status === 416 && offset > 0) return 'restart';
  if (status !== 200 && status !== 206) {
    return new UpstreamError({
      code: status === 404 || status === 410 ? 'NOT_FOUND' : 'HTTP_STATUS',
      message: `${o.subject}: GET ${redact(url)} answered HTTP ${status}`,
      subject: o.subject,
      hint:
        status === 404 || status === 410
          ? 'the file is gone from that address: check the URL in the manifest'
          : status === 401 || status === 403
            ? 'the server refused access: check credentials or the URL'
            : 'the server failed; it was retried. Try again later or use another mirror',
      cause: { status },
    });
  }
  let startedAt = 0;
  let totalSize: number | undefined;
  const len = Number(headers['content-length'] ?? NaN);
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(headers['content-range'] ?? ''));
    startedAt = m ? Number(m[1]) : 0;
    if (m && m[3] !== '*') totalSize = Number(m[3]);
    if (!m || startedAt !== offset) {
      if (offset > 0) return 'restart'; // restart once from the beginning
      return new UpstreamError({
        code: 'HTTP_STATUS',
        message: `${o.subject}: GET ${redact(url)} answered 206 with an unusable Content-Range "${String(headers['content-range'] ?? '')}"`,
        subject: o.subject,
        hint: 'the server (or a proxy) mangles range requests; try another mirror or proxy',
        cause: { status },
      });
    }
  } else if (Number.isFinite(len)) {
    totalSize = len;
  }
  if (Number.isFinite(len) && startedAt + len > o.maxLength) return tooLarge(url, o, startedAt + len);
  return { status, startedAt, totalSize };
}
