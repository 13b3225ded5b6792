import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';

/**
 * For the calling test file: the servers and clients a test opens, each closed after that test (push them on).
 * A client is anything with close(), as the fetch layer's HttpClient.
 */
export function closedAfterEach(): { servers: TestServer[]; clients: { close(): Promise<unknown> }[] } {
  const servers: TestServer[] = [];
  const clients: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    await Promise.all(servers.splice(0).map((x) => x.close()));
  });
  return { servers, clients };
}

/** The proxy variables of the environment that Node's fetch/undici and curl honour. */
export const PROXY_VARS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'] as const;

/** For the calling test file: no proxy from the host may divert requests to 127.0.0.1 (cleared, then restored). */
export function withoutHostProxy(): void {
  const saved = new Map<string, string | undefined>();
  beforeAll(() => {
    for (const k of PROXY_VARS) {
      saved.set(k, process.env[k]);
      delete process.env[k];
    }
  });
  afterAll(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

/**
 * What one answer does wrong. Fields combine; an empty fault is a correct answer (Range honoured).
 */
export interface Fault {
  /** Answer with this status instead (404, 500...). Without `body`, a short text body is sent. */
  status?: number;
  /** Wait this long before sending the status line and headers. */
  delayHeadersMs?: number;
  /** Answer 200 with the whole body even when the request asked for a Range. */
  ignoreRange?: boolean;
  /** Serve these bytes instead of the named buffer (wrong content, a longer or a shorter file). */
  body?: Uint8Array;
  /** Send no Content-Length (chunked encoding): the client learns the length only at the end. */
  chunked?: boolean;
  /** Bytes written after the declared Content-Length: a body larger than declared. */
  extra?: Uint8Array;
  /** Headers to add or replace; null removes one. */
  headers?: Record<string, string | null>;
  /** Write this many body bytes, then reset the connection (TCP RST). */
  resetAfter?: number;
  /** Write this many body bytes, then go silent for `stallMs` before sending the rest. */
  stallAfter?: number;
  stallMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The Range header as sent, when there was one. */
  range: string | undefined;
  headers: IncomingMessage['headers'];
  /** Status answered (0 until the headers went out). */
  status: number;
}

export interface TestServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  origin: string;
  url(path: string): string;
  /** Every request, in arrival order. */
  requests: RecordedRequest[];
  /** Requests for one path. */
  requestsFor(path: string): RecordedRequest[];
  /** Adds or replaces a served file. */
  set(path: string, data: Uint8Array): void;
  /**
   * Faults for the next requests of `path`, one per request in order; once they are used up, `then` applies
   * to every later request (default: a correct answer).
   */
  script(path: string, steps: Fault[], then?: Fault): void;
  /** Responses being answered right now, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 serving named buffers with Range support and scripted faults per path. */
export async function startServer(files: Record<string, Uint8Array> = {}): Promise<TestServer> {
  const data = new Map<string, Uint8Array>(Object.entries(files));
  const scripts = new Map<string, { steps: Fault[]; then: Fault }>();
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      headers: req.headers,
      status: 0,
    };
    requests.push(rec);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = () => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    res.once('finish', done);
    res.once('close', done);
    const s = scripts.get(path);
    const fault: Fault = s ? (s.steps.shift() ?? s.then) : {};
    answer(req, res, rec, data.get(path), fault).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    url: (p) => `${origin}${p.startsWith('/') ? p : `/${p}`}`,
    requests,
    requestsFor: (p) => requests.filter((r) => r.path === p),
    set: (p, d) => void data.set(p, d),
    script: (p, steps, then = {}) => void scripts.set(p, { steps: [...steps], then }),
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, file: Uint8Array | undefined, f: Fault): Promise<void> {
  if (f.delayHeadersMs && !(await wait(f.delayHeadersMs, res))) return;
  const headers: Record<string, string> = {};
  let status: number;
  let body: Uint8Array;
  if (f.status !== undefined && f.body === undefined) {
    status = f.status;
    body = Buffer.from(`status ${f.status}\n`);
  } else if (file === undefined && f.body === undefined) {
    status = 404;
    body = Buffer.from('not found\n');
  } else {
    const whole = f.body ?? file!;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && !f.ignoreRange) {
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), whole.byteLength - 1) : whole.byteLength - 1;
      if (start >= whole.byteLength || end < start) {
        status = 416;
        headers['content-range'] = `bytes */${whole.byteLength}`;
        body = new Uint8Array(0);
      } else {
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${whole.byteLength}`;
        body = whole.subarray(start, end + 1);
      }
    } else {
      status = 200;
      body = whole;
    }
    if (f.status !== undefined) status = f.status;
  }
  headers['content-type'] = 'application/octet-stream';
  if (!f.chunked) headers['content-length'] = String(body.byteLength);
  for (const [k, v] of Object.entries(f.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  rec.status = status;
  res.writeHead(status, headers);
  res.flushHeaders();

  const cut = f.resetAfter ?? f.stallAfter;
  if (cut !== undefined) {
    if (!(await write(res, body.subarray(0, cut)))) return;
    // Let the client read what was sent before the connection goes away or goes silent.
    if (!(await wait(f.resetAfter !== undefined ? 50 : (f.stallMs ?? 0), res))) return;
    if (f.resetAfter !== undefined) {
      const sock = res.socket;
      if (sock?.resetAndDestroy) sock.resetAndDestroy();
      else sock?.destroy();
      return;
    }
    body = body.subarray(cut);
  }
  if (!(await write(res, body))) return;
  if (f.extra) {
    // Past the declared length: node only passes these through with strictContentLength off (its default).
    const sock = res.socket;
    await new Promise<void>((r) => res.end(r));
    sock?.write(f.extra);
    return;
  }
  res.end();
}

/** Resolves true after `ms`, or false as soon as the response is closed (the client went away). */
function wait(ms: number, res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => (clearTimeout(t), resolve(false));
    const t = setTimeout(() => (res.off('close', onClose), resolve(!res.destroyed)), ms);
    res.once('close', onClose);
  });
}

/** Writes in 16 KiB pieces, honouring backpressure; false when the response closed first. */
async function write(res: ServerResponse, data: Uint8Array): Promise<boolean> {
  for (let i = 0; i < data.byteLength; i += 16 * 1024) {
    if (res.destroyed) return false;
    if (!res.write(data.subarray(i, i + 16 * 1024))) {
      const ok = await new Promise<boolean>((resolve) => {
        const onDrain = () => (res.off('close', onClose), resolve(true));
        const onClose = () => (res.off('drain', onDrain), resolve(false));
        res.once('drain', onDrain);
        res.once('close', onClose);
      });
      if (!ok) return false;
    }
  }
  return !res.destroyed;
}

export interface ProxySeen {
  /** 'GET' for an absolute-form request, 'CONNECT' for a tunnel. */
  method: string;
  /** The absolute URL of a GET, or host:port of a CONNECT. */
  target: string;
}

export interface TestProxy {
  url: string;
  seen: ProxySeen[];
  close(): Promise<void>;
}

/**
 * A forward HTTP proxy on 127.0.0.1: forwards absolute-form requests (`GET http://host/path`), as curl and
 * apt send them for http:// URLs. CONNECT tunnels are refused with 403 (as squid does for ports other than
 * 443) unless `allowConnect`.
 */
export async function startProxy(o: { allowConnect?: boolean } = {}): Promise<TestProxy> {
  const seen: ProxySeen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const target = req.url ?? '';
    seen.push({ method: req.method ?? 'GET', target });
    if (!/^http:\/\//.test(target)) {
      res.writeHead(400).end('absolute-form request expected\n');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const up = httpRequest(target, { method: req.method, headers, agent: false }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
      ur.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', target: req.url ?? '' });
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!o.allowConnect) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
