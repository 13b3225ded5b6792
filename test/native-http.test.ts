import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpClient } from '../src/fetch/http.js';
import type { GetOptions } from '../src/fetch/http-common.js';
import { type Getter, NativeHttpClient } from '../src/fetch/native-http.js';
import { pullClient } from '../src/fetch/pull-client.js';
import { UpstreamError } from '../src/util/errors.js';
import { type Limits, limits as defaults } from '../src/util/limits.js';
import { closedAfterEach, startProxy, startServer, type TestServer, withoutHostProxy } from './helpers/server.js';

withoutHostProxy();
const { servers, clients } = closedAfterEach();

const FAST: Limits = { ...defaults, connectTimeoutMs: 2_000, headersTimeoutMs: 400, bodyTimeoutMs: 400 };
const DATA = randomBytes(3 * 1024 * 1024 + 17);

async function server(files: Record<string, Uint8Array> = { '/f': DATA }): Promise<TestServer> {
  const s = await startServer(files);
  servers.push(s);
  return s;
}

async function bytes(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const opts = (o: Partial<GetOptions> = {}): GetOptions => ({ maxLength: 1 << 30, subject: 'f', ...o });

/** The pull's native client answers as HttpClient does: the same cases, side by side. */
describe.each([
  ['NativeHttpClient (node:http)', (l: Limits): Getter => new NativeHttpClient(l)],
  ['HttpClient (undici)', (l: Limits): Getter => new HttpClient(l)],
])('%s', (_name, make) => {
  const client = (l: Limits = FAST) => {
    const c = make(l);
    clients.push(c);
    return c;
  };

  it('gets a whole file, then resumes from an offset with Range (206, where the body starts, the whole size)', async () => {
    const s = await server();
    const c = client();
    const whole = await c.get(s.url('/f'), opts());
    expect({ status: whole.status, startedAt: whole.startedAt, totalSize: whole.totalSize }).toEqual({ status: 200, startedAt: 0, totalSize: DATA.length });
    expect((await bytes(whole.body)).equals(DATA)).toBe(true);
    const rest = await c.get(s.url('/f'), opts({ offset: 1000 }));
    expect({ status: rest.status, startedAt: rest.startedAt, totalSize: rest.totalSize }).toEqual({ status: 206, startedAt: 1000, totalSize: DATA.length });
    expect((await bytes(rest.body)).equals(DATA.subarray(1000))).toBe(true);
    expect(s.requestsFor('/f').map((r) => r.range)).toEqual([undefined, 'bytes=1000-']);
  });

  it('starts again from 0 on a 416, an ignored Range or an unusable Content-Range', async () => {
    const s = await server();
    const c = client();
    const past = await c.get(s.url('/f'), opts({ offset: DATA.length + 5 }));
    expect(past.startedAt).toBe(0);
    expect((await bytes(past.body)).equals(DATA)).toBe(true);
    s.script('/f', [{ ignoreRange: true }]);
    const ignored = await c.get(s.url('/f'), opts({ offset: 10 }));
    expect({ status: ignored.status, startedAt: ignored.startedAt }).toEqual({ status: 200, startedAt: 0 });
    expect((await bytes(ignored.body)).length).toBe(DATA.length);
    s.script('/f', [{ headers: { 'content-range': 'bytes 7-9/*' } }]);
    const mangled = await c.get(s.url('/f'), opts({ offset: 10 }));
    expect(mangled.startedAt).toBe(0);
    expect((await bytes(mangled.body)).equals(DATA)).toBe(true);
  });

  it('maps refusals, size ceilings, broken and silent connections to the errors HttpClient gives', async () => {
    const s = await server();
    const c = client();
    await expect(c.get(s.url('/nope'), opts())).rejects.toMatchObject({ code: 'NOT_FOUND', cause: { status: 404 } });
    s.script('/f', [{ status: 503 }]);
    await expect(c.get(s.url('/f'), opts())).rejects.toMatchObject({ code: 'HTTP_STATUS', cause: { status: 503 } });
    await expect(c.get(s.url('/f'), opts({ maxLength: 1000 }))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    s.script('/f', [{ chunked: true }]);
    const chunked = await c.get(s.url('/f'), opts({ maxLength: 1 << 20 }));
    await expect(bytes(chunked.body)).rejects.toMatchObject({ code: 'TOO_LARGE' });
    s.script('/f', [{ resetAfter: 100_000 }]);
    const reset = await c.get(s.url('/f'), opts());
    await expect(bytes(reset.body)).rejects.toSatisfy((e: unknown) => e instanceof UpstreamError && e.code === 'NETWORK');
    s.script('/f', [{ stallAfter: 100_000, stallMs: 3000 }]);
    const stalled = await c.get(s.url('/f'), opts());
    await expect(bytes(stalled.body)).rejects.toMatchObject({ code: 'TIMEOUT' });
    s.script('/f', [{ delayHeadersMs: 3000 }]);
    await expect(c.get(s.url('/f'), opts())).rejects.toMatchObject({ code: 'TIMEOUT' });
    const gone = await server();
    const dead = gone.url('/f');
    await gone.close();
    await expect(c.get(dead, opts())).rejects.toMatchObject({ code: 'NETWORK' });
  });

  it('follows redirects, and carries Authorization to the same origin only', async () => {
    const target = await server();
    const hops = createServer((req, res) => {
      const to = req.url === '/a' ? '/b' : req.url === '/b' ? target.url('/f') : '/loop';
      res.writeHead(302, { location: to, 'content-length': '0' }).end();
    });
    await new Promise<void>((r) => hops.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise<void>((r) => (hops.closeAllConnections(), hops.close(() => r()))) } as TestServer);
    const origin = `http://127.0.0.1:${(hops.address() as AddressInfo).port}`;
    const c = client();
    const r = await c.get(`${origin}/a`, opts({ headers: { authorization: 'Bearer sekrit' } }));
    expect((await bytes(r.body)).equals(DATA)).toBe(true);
    expect(target.requestsFor('/f')[0]!.headers.authorization).toBeUndefined();
    await expect(c.get(`${origin}/loop`, opts())).rejects.toBeInstanceOf(Error);
  });

  it('stops mid-body when the signal aborts, with the abort (not a connection error)', async () => {
    const s = await server();
    s.script('/f', [{ stallAfter: 100_000, stallMs: 1500 }]);
    const ac = new AbortController();
    const r = await client().get(s.url('/f'), opts({ signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await expect(bytes(r.body)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('pullClient', () => {
  it('is node:http without a proxy; with HTTP_PROXY set it is HttpClient, and the request goes through the proxy', async () => {
    const none = await pullClient(FAST);
    clients.push(none);
    expect(none).toBeInstanceOf(NativeHttpClient);
    const proxy = await startProxy();
    servers.push(proxy as unknown as TestServer);
    const s = await server();
    process.env.HTTP_PROXY = proxy.url;
    try {
      const via = await pullClient(FAST);
      clients.push(via);
      expect(via).toBeInstanceOf(HttpClient);
      expect((await bytes((await via.get(s.url('/f'), opts())).body)).equals(DATA)).toBe(true);
      expect(proxy.seen).toEqual([{ method: 'GET', target: s.url('/f') }]);
    } finally {
      delete process.env.HTTP_PROXY;
    }
  });
});
