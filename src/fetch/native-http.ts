import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { UpstreamError } from '../util/errors.js';
import type { Limits } from '../util/limits.js';
import { type GetOptions, type GetResult, answered, cappedBody, networkError, redact } from './http-common.js';

/** What a served-bundle pull asks of an HTTP client: a ranged, capped GET (HttpClient has it too). */
export interface Getter {
  get(url: string, o: GetOptions): Promise<GetResult>;
  close(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * HTTP(S) GET over node:http with the guarantees HttpClient gives: Range from an offset (a 416 or an unusable
 * Content-Range asks again from 0), the size ceiling, connect / headers / body-silence timeouts, redirects (an
 * Authorization header is not carried to another origin), kept-alive connections, TLS verified against node's
 * CAs (NODE_EXTRA_CA_CERTS too), errors mapped as HttpClient maps them (NETWORK, TIMEOUT, HTTP_STATUS, ...).
 */
export class NativeHttpClient implements Getter {
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(private readonly limits: Limits) {}

  async get(url: string, o: GetOptions, hops = 0): Promise<GetResult> {
    const offset = o.offset ?? 0;
    const headers: Record<string, string> = { 'user-agent': 'vault-bundle', ...o.headers };
    if (o.end !== undefined) headers.range = `bytes=${offset}-${o.end - 1}`;
    else if (offset > 0) headers.range = `bytes=${offset}-`;
    let res: IncomingMessage;
    try {
      res = await this.send(url, headers, o.signal);
    } catch (err) {
      throw networkError(o.signal?.aborted ? (o.signal.reason ?? err) : err, url, o.subject);
    }
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status) && res.headers.location) {
      res.resume();
      if (hops >= this.limits.maxRedirections) throw tooManyRedirects(url, o, hops);
      const next = new URL(res.headers.location, url);
      const same = next.origin === new URL(url).origin;
      const { authorization: _a, Authorization: _b, ...rest } = o.headers ?? {};
      return this.get(next.href, { ...o, headers: same ? (o.headers ?? {}) : rest }, hops + 1);
    }
    const a = answered(status, res.headers, url, o);
    if (a === 'restart' || a instanceof Error) {
      // A refusal's short body is read off (the connection stays usable); a 200/206 body we will not read is cut.
      if (status === 200 || status === 206) res.destroy();
      else res.resume();
      if (a instanceof Error) throw a;
      return this.get(url, { ...o, offset: 0, end: undefined }, hops);
    }
    return { ...a, headers: res.headers, body: cappedBody(res, o.maxLength - a.startedAt, url, o) };
  }

  /** One request; resolves with the answer's head. Each phase has its own silence limit, as undici's Agent. */
  private send(url: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    if (!tls && u.protocol !== 'http:') return Promise.reject(new TypeError(`not an http(s) URL: ${redact(url)}`));
    const { connectTimeoutMs, headersTimeoutMs, bodyTimeoutMs } = this.limits;
    return new Promise((ok, ko) => {
      const req = (tls ? https : http).request(u, { method: 'GET', headers, agent: tls ? this.agents.https : this.agents.http, ...(signal ? { signal } : {}) });
      let phase: 'CONNECT' | 'HEADERS' | 'BODY' = 'CONNECT';
      let res: IncomingMessage | undefined;
      req.setTimeout(connectTimeoutMs);
      req.on('timeout', () => {
        const e = Object.assign(new Error(`${phase.toLowerCase()} timeout`), { code: `UND_ERR_${phase}_TIMEOUT` });
        // Mid-body the answer carries the error to whoever reads it; before, the request fails with it.
        if (res) res.destroy(e);
        else req.destroy(e);
      });
      req.on('socket', (s) => {
        const sent = () => {
          phase = 'HEADERS';
          req.setTimeout(headersTimeoutMs);
        };
        if (s.connecting) s.once('connect', sent);
        else sent();
      });
      req.on('response', (r) => {
        res = r;
        phase = 'BODY';
        req.setTimeout(bodyTimeoutMs);
        ok(r);
      });
      req.on('error', ko);
      req.end();
    });
  }

  close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
    return Promise.resolve();
  }
}

function tooManyRedirects(url: string, o: GetOptions, hops: number): UpstreamError {
  return new UpstreamError({
    code: 'HTTP_STATUS',
    message: `${o.subject}: GET ${redact(url)} redirects again after ${hops} redirects`,
    subject: o.subject,
    hint: 'the server redirects in a loop; check the URL',
  });
}
