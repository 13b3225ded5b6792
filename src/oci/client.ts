import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, request } from 'undici';
import { type Credentials, basicHeader, loadCredentials, parseChallenge } from './auth.js';
import { OciError, clean } from './errors.js';
import { type OciRef, isLoopback, refString } from './ref.js';

export interface ClientOptions {
  plainHttp?: boolean;
  caFile?: string;
  signal?: AbortSignal;
  credentials?: Credentials;
  /** Retries of a 429 or 5xx answer (default 4). */
  retries?: number;
}

export type Body = Buffer | (() => Readable);

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
}

/** Longest Retry-After we sleep through before giving up with OCI_RATE_LIMITED. */
const MAX_RETRY_AFTER_S = 60;

/** One registry and repository, with the v2 auth flow (Bearer token or Basic) done as the registry asks. */
export class RegistryClient {
  readonly ref: OciRef;
  readonly base: string;
  private readonly agent: Agent;
  private readonly creds: Credentials | undefined;
  private readonly tokens = new Map<string, string>();
  private auth: string | undefined;
  private readonly o: ClientOptions;

  constructor(ref: OciRef, o: ClientOptions = {}) {
    this.ref = ref;
    this.o = o;
    // Loopback speaks plain HTTP unless a CA is given for it (then it is a TLS registry on loopback).
    const plain = Boolean(o.plainHttp) || (isLoopback(ref.registry) && !o.caFile);
    this.base = `${plain ? 'http' : 'https'}://${ref.registry}`;
    this.agent = new Agent({ connections: 32, ...(o.caFile ? { connect: { ca: readFileSync(o.caFile) } } : {}) });
    this.creds = o.credentials ?? loadCredentials(ref.registry);
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.base}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  /** `/v2/<repository>/…` */
  path(rest: string, repository = this.ref.repository): string {
    return `/v2/${repository}/${rest}`;
  }

  /** Sends a request; answers 401 by authenticating once, 429/5xx by waiting and retrying; other errors typed. */
  async send(
    method: Dispatcher.HttpMethod,
    path: string,
    o: { headers?: Record<string, string>; body?: Body; push?: boolean; ok?: number[] } = {},
  ): Promise<Answer> {
    const ok = o.ok ?? [200, 201, 202, 204, 206];
    let authTried = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...o.headers };
      if (this.auth) headers.authorization = this.auth;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(this.url(path), {
          method,
          headers,
          body: typeof o.body === 'function' ? o.body() : o.body,
          dispatcher: this.agent,
          ...(this.o.signal ? { signal: this.o.signal } : {}),
        });
      } catch (err) {
        if ((err as { name?: string }).name === 'AbortError') throw err;
        throw new OciError({
          code: 'OCI_NETWORK',
          message: `cannot reach ${this.base}: ${clean(String((err as Error).message ?? err))}`,
          subject: this.ref.registry,
          hint: this.base.startsWith('https')
            ? 'check the host and port; a registry serving plain HTTP off loopback needs --plain-http, a private CA --ca-file'
            : 'check the host and port, and that the registry runs',
          cause: err,
        });
      }
      const h = flat(res.headers);
      if (ok.includes(res.statusCode) || (res.statusCode >= 300 && res.statusCode < 400 && h.location))
        return { status: res.statusCode, headers: h, body: res.body };
      const text = clean(await res.body.text().catch(() => ''));
      if (res.statusCode === 401 && !authTried) {
        authTried = true;
        await this.authenticate(h['www-authenticate'], Boolean(o.push));
        attempt--;
        continue;
      }
      const retries = this.o.retries ?? 4;
      if ((res.statusCode === 429 || res.statusCode >= 500) && attempt < retries && typeof o.body !== 'function') {
        const after = retryAfter(h['retry-after']) ?? 2 ** attempt;
        if (after <= MAX_RETRY_AFTER_S) {
          await sleep(after * 1000, this.o.signal);
          continue;
        }
      }
      throw this.httpError(method, path, res.statusCode, h, text);
    }
  }

  private async authenticate(header: string | undefined, push: boolean): Promise<void> {
    const ch = parseChallenge(header);
    const login = 'give credentials in ~/.docker/config.json, $DOCKER_CONFIG/config.json or $REGISTRY_AUTH_FILE (skopeo login / docker login write them)';
    if (!ch)
      throw new OciError({
        code: 'OCI_UNAUTHORIZED',
        message: `${this.ref.registry} asks for authentication it does not describe`,
        subject: this.ref.registry,
        hint: login,
      });
    if (ch.scheme === 'basic') {
      if (!this.creds)
        throw new OciError({
          code: 'OCI_UNAUTHORIZED',
          message: `${this.ref.registry} wants a user name and password and none is stored for it`,
          subject: this.ref.registry,
          hint: login,
        });
      this.auth = basicHeader(this.creds);
      return;
    }
    const scope = ch.params.scope ?? `repository:${this.ref.repository}:${push ? 'pull,push' : 'pull'}`;
    const cached = this.tokens.get(scope);
    if (cached) {
      this.auth = cached;
      return;
    }
    const realm = ch.params.realm;
    if (!realm)
      throw new OciError({ code: 'OCI_UNAUTHORIZED', message: `${this.ref.registry} sent a Bearer challenge without a realm`, subject: this.ref.registry });
    const u = new URL(realm);
    if (ch.params.service) u.searchParams.set('service', ch.params.service);
    u.searchParams.set('scope', scope);
    const res = await request(u, {
      headers: this.creds ? { authorization: basicHeader(this.creds) } : {},
      dispatcher: this.agent,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw this.httpError('GET', u.origin + u.pathname, res.statusCode, flat(res.headers), clean(text), 'the token server');
    const doc = JSON.parse(text) as { token?: string; access_token?: string };
    const token = doc.token ?? doc.access_token;
    if (!token) throw new OciError({ code: 'OCI_UNAUTHORIZED', message: `the token server of ${this.ref.registry} gave no token`, subject: realm });
    this.auth = `Bearer ${token}`;
    this.tokens.set(scope, this.auth);
  }

  httpError(method: string, path: string, status: number, h: Record<string, string>, text: string, who = this.ref.registry): OciError {
    const what = `${method} ${path.replace(/\?.*$/, '')} at ${who}: HTTP ${status}${text ? ` ${text}` : ''}`;
    const subject = refString(this.ref);
    if (status === 401)
      return new OciError({
        code: 'OCI_UNAUTHORIZED',
        message: `not authenticated: ${what}`,
        subject,
        hint: 'the stored credentials were refused; log in again (skopeo login / docker login) or fix ~/.docker/config.json / $REGISTRY_AUTH_FILE',
      });
    if (status === 403)
      return new OciError({
        code: 'OCI_DENIED',
        message: `denied: ${what}`,
        subject,
        hint: 'this account may not do that in this repository; ask the registry admin for pull (and push) on it',
      });
    if (status === 404)
      return new OciError({
        code: 'OCI_NOT_FOUND',
        message: `not found: ${what}`,
        subject,
        hint: 'check the repository, tag or digest (skopeo list-tags docker://…)',
      });
    if (status === 429) {
      const s = h['retry-after'];
      return new OciError({
        code: 'OCI_RATE_LIMITED',
        message: `rate limited: ${what}${s ? ` (Retry-After: ${clean(s, 40)})` : ''}`,
        subject,
        hint: `try again${s ? ` after ${clean(s, 40)}${/^\d+$/.test(s) ? ' s' : ''}` : ' later'}, or lower --concurrency`,
      });
    }
    return new OciError({ code: 'OCI_HTTP', message: what, subject });
  }
}

function flat(h: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

function retryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });
}
