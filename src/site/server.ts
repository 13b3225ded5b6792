import { timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LoadedBundle } from '../bundle/load.js';
import { PYPI_HTML, simpleForm } from './negotiate.js';
import type { SitePlan } from './plan.js';
import { parseTarget } from './request.js';
import { BASE_HEADERS, type Prepared, bodyLength, plain, prepare, send } from './respond.js';

const SMALL = 64 * 1024;

/** One line of the access log (JSON lines): what was asked and answered, never a header's secret. */
export interface AccessLine {
  time: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  agent?: string;
}

export interface ServeOptions {
  host: string;
  port: number;
  /** Bearer token (as HF_TOKEN sends it), or the password of basic auth (any user name). */
  token?: string;
  tls?: { cert: Buffer; key: Buffer };
  log?: (line: AccessLine) => void;
  /** Open connections at most; more are refused at once (default 256). */
  maxConnections?: number;
  /** Milliseconds: for a request's headers, an idle kept-alive connection, a stalled socket. */
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export interface RunningSite {
  url: string;
  server: Server;
  /** Stops accepting, lets the answers in flight finish (at most `graceMs`), then closes every connection. */
  drain(graceMs?: number): Promise<void>;
}

/**
 * Serves a site from the bundle in place: entries of the bundle are read from its blobs (folder, tar or split
 * parts: the segments the reader found), never copied. Read-only: GET and HEAD, and POST for the Hub's
 * paths-info only. Strong ETags (content hashes; the Hub's own on resolve URLs) with If-None-Match, one Range.
 */
export async function serveSite(b: LoadedBundle, plan: SitePlan, o: ServeOptions): Promise<RunningSite> {
  // Small files of the bundle (pages, indexes, configs) are read once into memory, up to 16 MiB in all: an index
  // page then costs no open(). Every answer's headers are made here, once.
  let budget = 16 << 20;
  const byUrl = new Map<string, Prepared>();
  for (const e of plan.entries) {
    const small = 'bundle' in e.source && e.size <= SMALL && e.size <= budget;
    if (small) budget -= e.size;
    byUrl.set(e.url, prepare(small && 'bundle' in e.source ? { ...e, source: { text: await b.reader.read(e.source.bundle, SMALL) } } : e, b));
  }
  const site: Site = { byUrl, plan, o };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (o.log) logWhenDone(req, res, o.log);
    answer(req, res, site).catch(() => {
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const opts = {
    maxHeaderSize: 16 * 1024,
    requestTimeout: 60_000,
    headersTimeout: o.headersTimeoutMs ?? 10_000,
    keepAliveTimeout: o.keepAliveTimeoutMs ?? 5_000,
  };
  const server: Server = o.tls ? createTlsServer({ ...opts, cert: o.tls.cert, key: o.tls.key }, handler) : createServer(opts, handler);
  server.maxConnections = o.maxConnections ?? 256;
  server.maxHeadersCount = 64;
  server.timeout = o.idleTimeoutMs ?? 30_000;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port, o.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `${o.tls ? 'https' : 'http'}://${host}:${a.port}`,
    server,
    drain: async (graceMs = 10_000) => {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

function authorized(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization ?? '';
  const m = /^(Bearer|Basic)\s+(\S+)$/i.exec(h);
  if (!m) return false;
  let given = m[2]!;
  if (m[1]!.toLowerCase() === 'basic') {
    const dec = Buffer.from(given, 'base64').toString('utf8');
    given = dec.slice(dec.indexOf(':') + 1);
  }
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

interface Site {
  byUrl: Map<string, Prepared>;
  plan: SitePlan;
  o: ServeOptions;
}

function logWhenDone(req: IncomingMessage, res: ServerResponse, log: (l: AccessLine) => void): void {
  const t0 = performance.now();
  // Read now: by 'finish' a closed connection's socket no longer knows its peer (the line said remote "").
  const remote = req.socket.remoteAddress ?? '';
  res.once('finish', () => {
    const bytes = req.method === 'HEAD' || res.statusCode === 304 ? 0 : (bodyLength.get(res) ?? 0);
    const agent = req.headers['user-agent'];
    log({
      time: new Date().toISOString(),
      remote,
      method: (req.method ?? '').slice(0, 16),
      path: (req.url ?? '').slice(0, 512),
      status: res.statusCode,
      bytes,
      ms: Math.round(performance.now() - t0),
      ...(agent ? { agent: agent.slice(0, 200) } : {}),
    });
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, site: Site): Promise<void> {
  const { byUrl, plan, o } = site;
  const t = parseTarget(req.url);
  if (!t.ok) return plain(res, t.status, `bad request: ${t.why}`, { Connection: 'close' });
  if (o.token && !authorized(req, o.token))
    return plain(res, 401, 'authorization required', { 'WWW-Authenticate': 'Basic realm="vault-bundle", charset="UTF-8"' });
  const p = t.path;
  if (req.method === 'POST') {
    const pi = /^hf\/api\/(models|datasets)\/(.+)\/paths-info\/([^/]+)$/.exec(p);
    if (pi) return pathsInfo(req, res, plan.pathsInfo.get(`${pi[1]}/${pi[2]}/${pi[3]}`));
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
  const recursive = t.query.size > 0 && ['true', 'True', '1'].includes(t.query.get('recursive') ?? '');
  const e =
    (recursive ? byUrl.get(`${p}?recursive=true`) : undefined) ??
    byUrl.get(p === '' || p.endsWith('/') ? `${p}index.html` : p) ??
    (p.endsWith('/') ? byUrl.get(p.slice(0, -1)) : undefined);
  if (!e) {
    // A folder asked without its slash: pip and browsers need the slash for the relative links inside.
    if (byUrl.has(`${p}/index.html`)) return plain(res, 301, 'moved', { Location: `/${encodeURI(p)}/` });
    return plain(res, 404, 'not found', p.startsWith('hf/') ? { 'X-Error-Code': 'EntryNotFound' } : {});
  }
  if (e.entry.json) {
    // PEP 691: the simple index in the form the Accept header (or ?format=) prefers; HTML by default.
    const form = simpleForm(req.headers.accept, t.query.size > 0 ? t.query.get('format') : undefined);
    if (form === 'json') return send(req, res, byUrl.get(e.entry.json) ?? e);
    if (form === 'v1html') return send(req, res, e, PYPI_HTML);
  }
  return send(req, res, e);
}

async function pathsInfo(req: IncomingMessage, res: ServerResponse, files: Map<string, unknown> | undefined): Promise<void> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > 64 * 1024) return plain(res, 413, 'body too large', { Connection: 'close' });
    chunks.push(c as Buffer);
  }
  if (!files) return plain(res, 404, 'not found', { 'X-Error-Code': 'RevisionNotFound' });
  const body = Buffer.concat(chunks).toString('utf8');
  let paths: string[];
  if ((req.headers['content-type'] ?? '').includes('json')) {
    try {
      const j = JSON.parse(body) as { paths?: unknown };
      paths = Array.isArray(j.paths) ? j.paths.map(String) : typeof j.paths === 'string' ? [j.paths] : [];
    } catch {
      return plain(res, 400, 'bad JSON');
    }
  } else {
    paths = new URLSearchParams(body).getAll('paths');
  }
  const out = Buffer.from(JSON.stringify(paths.map((p) => files.get(p.replace(/^\/+|\/+$/g, ''))).filter((x) => x !== undefined)));
  bodyLength.set(res, out.length);
  res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': out.length });
  res.end(out);
}
