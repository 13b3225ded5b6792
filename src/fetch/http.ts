import { Agent, EnvHttpProxyAgent, type Dispatcher, fetch as undiciFetch, interceptors, request } from 'undici';
import type { Limits } from '../util/limits.js';
import { type GetOptions, type GetResult, answered, cappedBody, networkError } from './http-common.js';
import { NativeHttpClient } from './native-http.js';

export { type GetOptions, type GetResult, isTransient, redact } from './http-common.js';

/**
 * HTTP GET with range, size ceiling, timeouts and proxy settings from the environment, over undici. `native`
 * sends the GETs over node's own http instead (NativeHttpClient; no proxy support), for a bench to compare the
 * two: on a build's 2.7 GB of debs node's http cost more CPU, not less (~1.8x the young collections: issue #14,
 * bench/results/2026-12-06-apt-speed-s8-dev.md), so builds stay on undici. fetchFor is undici's either way.
 */
export class HttpClient {
  private readonly dispatcher: Dispatcher;
  private readonly native: NativeHttpClient | undefined;

  constructor(limits: Limits, o: { native?: boolean } = {}) {
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
    this.native = o.native === true && !hasProxy ? new NativeHttpClient(limits) : undefined;
  }

  async get(url: string, o: GetOptions): Promise<GetResult> {
    if (this.native) return this.native.get(url, o);
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
    const a = answered(res.statusCode, res.headers, url, o);
    if (a === 'restart' || a instanceof Error) {
      // A refusal's short body is read off (the connection stays usable); a 200/206 body we will not read is cut.
      // Once cut, whatever the body says (an abort of the request's signal later) is heard by no one else.
      res.body.on('error', () => undefined);
      if (res.statusCode === 200 || res.statusCode === 206) res.body.destroy();
      else res.body.resume();
      if (a instanceof Error) throw a;
      return this.get(url, { ...o, offset: 0, end: undefined });
    }
    return { ...a, headers: res.headers, body: cappedBody(res.body, o.maxLength - a.startedAt, url, o) };
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
    await this.native?.close();
    await this.dispatcher.close();
  }
}

function headersOf(h: unknown): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h as [string, string][]);
  return h as Record<string, string>;
}
