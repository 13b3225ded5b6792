import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Segment } from '../bundle/hashpool.js';
import type { LoadedBundle } from '../bundle/load.js';
import type { SiteEntry, SitePlan } from './plan.js';
import { parseRange, parseTarget } from './request.js';

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
  // page then costs no open().
  let budget = 16 << 20;
  const entries: SiteEntry[] = [];
  for (const e of plan.entries) {
    const small = 'bundle' in e.source && e.size <= SMALL && e.size <= budget;
    if (small) budget -= e.size;
    entries.push(small && 'bundle' in e.source ? { ...e, source: { text: await b.reader.read(e.source.bundle, SMALL) } } : e);
  }
  const byUrl = new Map<string, SiteEntry>(entries.map((e) => [e.url, e]));
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    res.on('finish', () => {
      const bytes = req.method === 'HEAD' || res.statusCode === 304 ? 0 : Number(res.getHeader('content-length') ?? 0);
      o.log?.({
        time: new Date().toISOString(),
        remote: req.socket.remoteAddress ?? '',
        method: (req.method ?? '').slice(0, 16),
        path: (req.url ?? '').slice(0, 512),
        status: res.statusCode,
        bytes,
        ms: Math.round(performance.now() - t0),
        ...(req.headers['user-agent'] ? { agent: req.headers['user-agent'].slice(0, 200) } : {}),
      });
    });
    answer(req, res, byUrl, plan, b, o).catch(() => {
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

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
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

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  byUrl: Map<string, SiteEntry>,
  plan: SitePlan,
  b: LoadedBundle,
  o: ServeOptions,
): Promise<void> {
  res.setHeader('Server', 'vault-bundle');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const t = parseTarget(req.url);
  if (!t.ok) return plain(res, t.status, `bad request: ${t.why}`, { Connection: 'close' });
  if (o.token && !authorized(req, o.token))
    return plain(res, 401, 'authorization required', { 'WWW-Authenticate': 'Basic realm="vault-bundle", charset="UTF-8"' });
  const pi = /^hf\/api\/(models|datasets)\/(.+)\/paths-info\/([^/]+)$/.exec(t.path);
  if (req.method === 'POST' && pi) return pathsInfo(req, res, plan.pathsInfo.get(`${pi[1]}/${pi[2]}/${pi[3]}`));
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
  const recursive = ['true', 'True', '1'].includes(t.query.get('recursive') ?? '');
  const p = t.path;
  const e =
    (recursive ? byUrl.get(`${p}?recursive=true`) : undefined) ??
    byUrl.get(p === '' || p.endsWith('/') ? `${p}index.html` : p) ??
    (p.endsWith('/') ? byUrl.get(p.slice(0, -1)) : undefined);
  if (!e) {
    // A folder asked without its slash: pip and browsers need the slash for the relative links inside.
    if (byUrl.has(`${p}/index.html`)) return plain(res, 301, 'moved', { Location: `/${encodeURI(p)}/` });
    return plain(res, 404, 'not found', p.startsWith('hf/') ? { 'X-Error-Code': 'EntryNotFound' } : {});
  }
  return send(req, res, e, b);
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
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': out.length });
  res.end(out);
}

async function send(req: IncomingMessage, res: ServerResponse, e: SiteEntry, b: LoadedBundle): Promise<void> {
  const etag = `"${e.etag}"`;
  const headers: Record<string, string | number> = { 'Content-Type': e.type, ETag: etag, 'Accept-Ranges': 'bytes', ...(e.headers ?? {}) };
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((v) => v.trim().replace(/^W\//, '') === etag || v.trim() === '*')) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const range = req.headers['if-range'] && req.headers['if-range'] !== etag ? undefined : parseRange(req.headers.range, e.size);
  if (range === 'unsatisfiable') return plain(res, 416, 'range not satisfiable', { 'Content-Range': `bytes */${e.size}` });
  const start = range?.start ?? 0;
  const end = range?.end ?? e.size - 1;
  const length = Math.max(0, end - start + 1);
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${e.size}`;
  headers['Content-Length'] = length;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === 'HEAD' || length === 0) return void res.end();
  if ('text' in e.source) return void res.end(e.source.text.subarray(start, end + 1));
  const segs = b.reader.entries.get(e.source.bundle)!.job.segments;
  await streamSegments(res, slice(segs, start, length));
  res.end();
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

async function streamSegments(res: ServerResponse, segs: readonly Segment[]): Promise<void> {
  for (const s of segs) {
    if (res.destroyed) return;
    const rs = createReadStream(s.file, { start: s.offset, end: s.offset + s.length - 1, highWaterMark: 256 * 1024 });
    await new Promise<void>((ok, fail) => {
      const onClose = () => {
        rs.destroy();
        ok();
      };
      res.once('close', onClose);
      rs.on('data', (c) => {
        if (!res.write(c)) {
          rs.pause();
          res.once('drain', () => rs.resume());
        }
      });
      rs.once('end', () => {
        res.off('close', onClose);
        ok();
      });
      rs.once('error', (err) => {
        res.off('close', onClose);
        fail(err);
      });
    });
  }
}
