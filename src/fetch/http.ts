import { Agent, EnvHttpProxyAgent, type Dispatcher, fetch as undiciFetch, interceptors, request } from 'undici';
import { UpstreamError } from '../util/errors.js';
import type { Limits } from '../util/limits.js';

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

/** HTTP GET with range, size ceiling, timeouts and proxy settings from the environment. */
export class HttpClient {
  private readonly dispatcher: Dispatcher;

  constructor(limits: Limits) {
    const opts = {
      connect: { timeout: limits.connectTimeoutMs },
      headersTimeout: limits.headersTimeoutMs,
      bodyTimeout: limits.bodyTimeoutMs,
    };
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl and apt read them; Node 20's own fetch ignores them.
    const hasProxy = ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy'].some((k) => process.env[k]);
    // proxyTunnel false: http:// goes to the proxy as an absolute-form GET (what curl and apt send; squid refuses
    // CONNECT to port 80 by default); https:// still tunnels.
    const base: Dispatcher = hasProxy ? new EnvHttpProxyAgent({ ...opts, proxyTunnel: false }) : new Agent(opts);
    this.dispatcher = base.compose(interceptors.redirect({ maxRedirections: limits.maxRedirections }));
  }

  async get(url: string, o: GetOptions): Promise<GetResult> {
    const offset = o.offset ?? 0;
    const headers: Record<string, string> = { 'user-agent': 'vault-bundle', ...o.headers };
    if (o.end !== undefined) headers.range = `bytes=${offset}-${o.end - 1}`;
    else if (offset > 0) headers.range = `bytes=${offset}-`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal: o.signal });
    } catch (err) {
      throw networkError(err, url, o.subject);
    }
    const status = res.statusCode;
    if (status === 416 && offset > 0) {
      res.body.resume();
      // What we hold is already the whole file (or more): restart so the store re-checks it from 0.
      return this.get(url, { ...o, offset: 0, end: undefined });
    }
    if (status !== 200 && status !== 206) {
      res.body.resume();
      throw new UpstreamError({
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
    const len = Number(res.headers['content-length'] ?? NaN);
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      startedAt = m ? Number(m[1]) : 0;
      if (m && m[3] !== '*') totalSize = Number(m[3]);
      if (!m || startedAt !== offset) {
        res.body.destroy();
        if (offset > 0) return this.get(url, { ...o, offset: 0, end: undefined }); // restart once from the beginning
        throw new UpstreamError({
          code: 'HTTP_STATUS',
          message: `${o.subject}: GET ${redact(url)} answered 206 with an unusable Content-Range "${String(res.headers['content-range'] ?? '')}"`,
          subject: o.subject,
          hint: 'the server (or a proxy) mangles range requests; try another mirror or proxy',
          cause: { status },
        });
      }
    } else if (Number.isFinite(len)) {
      totalSize = len;
    }
    if (Number.isFinite(len) && startedAt + len > o.maxLength) {
      res.body.destroy();
      throw tooLarge(url, o, startedAt + len);
    }
    const body = capped(res.body, o.maxLength - startedAt, url, o);
    return { status, startedAt, totalSize, headers: res.headers, body };
  }

  /**
   * A WHATWG fetch over the same dispatcher (proxy settings, timeouts), for libraries that take a `fetch`
   * option (@huggingface/hub). `headers` are added to every request (a token that must not reach the library).
   */
  fetchFor(headers: Record<string, string> = {}): typeof fetch {
    const f = (input: unknown, init?: Record<string, unknown>) =>
      undiciFetch(input as string, {
        ...(init ?? {}),
        headers: { 'user-agent': 'vault-bundle', ...headersOf(init?.headers), ...headers },
        dispatcher: this.dispatcher,
      });
    return f as unknown as typeof fetch;
  }

  /** Fetches a small document whole (an index, metadata). */
  async getBytes(url: string, o: GetOptions): Promise<Buffer> {
    const r = await this.get(url, { ...o, offset: 0 });
    const parts: Uint8Array[] = [];
    for await (const c of r.body) parts.push(c);
    return Buffer.concat(parts);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** The body, refused past `max` bytes, with network errors mapped; one generator (one promise per chunk). */
async function* capped(body: AsyncIterable<Uint8Array>, max: number, url: string, o: GetOptions): AsyncIterable<Uint8Array> {
  let n = 0;
  try {
    for await (const c of body) {
      n += c.byteLength;
      if (n > max) throw tooLarge(url, o, undefined);
      yield c;
    }
  } catch (err) {
    throw networkError(err, url, o.subject);
  }
}

function tooLarge(url: string, o: GetOptions, size: number | undefined): UpstreamError {
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

function networkError(err: unknown, url: string, subject: string): Error {
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

function headersOf(h: unknown): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h as [string, string][]);
  return h as Record<string, string>;
}
