import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientLines, sitePlan, verifiedBundle } from '../src/site/build.js';
import { type AccessLine, type RunningSite, serveSite } from '../src/site/server.js';
import { runCli } from './helpers/cli.js';
import { type SiteBundle, siteBundle } from './helpers/site-bundle.js';
import { aptFromSite, hubFromSite, pep691FromSite, pipFromSite } from './helpers/site-clients.js';

let fx: SiteBundle;
let site: RunningSite;
const log: AccessLine[] = [];

async function serve(location: string, o: Partial<Parameters<typeof serveSite>[2]> = {}): Promise<RunningSite> {
  const b = await verifiedBundle(location, { key: fx.release.pub });
  return serveSite(b, await sitePlan(b), { host: '127.0.0.1', port: 0, ...o });
}

beforeAll(async () => {
  fx = await siteBundle();
  site = await serve(fx.bundle, { log: (l) => log.push(l), maxConnections: 64, headersTimeoutMs: 1000, idleTimeoutMs: 2000 });
}, 180_000);
afterAll(async () => {
  await site?.drain(100);
  await fx?.close();
});

/** Sends raw bytes on one connection and returns all it got back (the connection closed, or after `ms`). */
function raw(url: string, request: string, ms = 1500): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((ok) => {
    let got = '';
    const c = connect(Number(port), hostname, () => c.write(request));
    c.on('data', (d) => (got += d.toString('latin1')));
    const done = () => ok(got);
    c.on('close', done);
    c.on('error', done);
    setTimeout(() => (c.destroy(), done()), ms);
  });
}

describe('serve', () => {
  it('apt-get installs the packages from serve with the documented line, signed-by the release key, no warnings', async () => {
    await aptFromSite(fx, site.url, 'apt-serve');
  }, 120_000);

  it('pip installs every wheel from serve with --index-url / --find-links and --require-hashes', async () => {
    await pipFromSite(fx, site.url, 'venv-serve');
  }, 240_000);

  it('answers the simple index as PEP 691 JSON (api 1.1, core metadata) to pip and HTML by default', async () => {
    await pep691FromSite(fx, site.url, 'venv-serve-691');
  }, 120_000);

  it('@huggingface/hub fetches the model from serve; a tar bundle is served in place just the same', async () => {
    await hubFromSite(fx, site.url, 'hf-serve');
    const tar = join(fx.work, 'bundle.tar');
    execFileSync('tar', ['-C', fx.work, '-cf', tar, 'bundle']);
    const fromTar = await serve(tar);
    try {
      await hubFromSite(fx, fromTar.url, 'hf-serve-tar');
      // A wheel's core metadata is read from inside the tar too (PEP 658: `<wheel>.metadata`).
      const md = await fetch(`${fromTar.url}/wheels/vb_alpha-1.0.0-py3-none-any.whl.metadata`);
      expect(md.status).toBe(200);
      expect(await md.text()).toMatch(/^Metadata-Version: [\s\S]*^Name: vb-alpha$/m);
    } finally {
      await fromTar.drain(100);
    }
  }, 240_000);

  it('answers ETag/If-None-Match, Range and keep-alive, and logs one JSON line per answer', async () => {
    const u = `${site.url}/bundle.json`;
    const a = await fetch(u);
    const body = Buffer.from(await a.arrayBuffer());
    expect(body).toEqual(await readFile(join(fx.bundle, 'bundle.json')));
    const etag = a.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect((await fetch(u, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const r = await fetch(u, { headers: { range: 'bytes=2-9' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 2-9/${body.length}`);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(body.subarray(2, 10));
    expect((await fetch(u, { headers: { range: `bytes=${body.length}-` } })).status).toBe(416);
    // Two requests on one connection.
    const two = await raw(site.url, 'HEAD /SHA256SUMS HTTP/1.1\r\nHost: x\r\n\r\nHEAD /bundle.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(two.match(/^HTTP\/1\.1 200 OK/gm)?.length).toBe(2);
    expect((await fetch(`${site.url}/simple/vb-alpha`, { redirect: 'manual' })).headers.get('location')).toBe('/simple/vb-alpha/');
    expect(log.some((l) => l.path === '/bundle.json' && l.status === 206 && l.bytes === 8 && l.method === 'GET')).toBe(true);
    expect(await fetch(`${site.url}/bundle.json`, { method: 'PUT', body: 'x' }).then((x) => x.status)).toBe(405);
  });

  it('refuses hostile targets with 400/404 and never sends a byte from outside the bundle', async () => {
    const secret = 'SECRET-OUTSIDE-THE-BUNDLE';
    await writeFile(join(fx.work, 'outside.txt'), secret);
    const targets = [
      '/../outside.txt',
      '/apt/../../outside.txt',
      '/%2e%2e/outside.txt',
      '/apt/%2E%2E/%2e%2e/outside.txt',
      '/%252e%252e/outside.txt',
      '/apt/..%2f..%2foutside.txt',
      '/bundle.json%00.txt',
      '/apt\\..\\outside.txt',
      `/${'a/'.repeat(3000)}`,
      'http://evil.example/bundle.json',
      '//etc/passwd',
      '/%ff%fe',
      '*',
    ];
    for (const t of targets) {
      const got = await raw(site.url, `GET ${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1]);
      expect([400, 404, 414], `${t}: ${got.slice(0, 80)}`).toContain(status);
      expect(got).not.toContain(secret);
      expect(got).not.toContain('root:');
    }
    // A header section too large, and a request with none ever finished, are cut off too.
    expect(await raw(site.url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
  });

  it('stays bounded under a thousand idle connections and serves again once they time out', async () => {
    const { port } = new URL(site.url);
    const socks = await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<Socket>((ok) => {
            const c = connect(Number(port), '127.0.0.1');
            c.on('error', () => {});
            c.once('connect', () => ok(c));
            c.once('close', () => ok(c));
          }),
      ),
    );
    expect(site.server.listenerCount('connection') >= 0).toBe(true);
    const open = await new Promise<number>((ok) => site.server.getConnections((_e, n) => ok(n)));
    expect(open).toBeLessThanOrEqual(64);
    // The idle ones are dropped by the header timeout; then the server answers as before.
    await new Promise((r) => setTimeout(r, 2500));
    for (const s of socks) s.destroy();
    expect((await fetch(`${site.url}/bundle.json`)).status).toBe(200);
  });

  it('pulls a served bundle several files at a time and resumes a .part with Range, hashing what it held and what came', async () => {
    const { pullServedBundle } = await import('../src/site/pull.js');
    const { pullClient } = await import('../src/fetch/pull-client.js');
    const { limits } = await import('../src/util/limits.js');
    const cache = join(fx.work, 'pull-resume');
    // The CLI's client (node:http here: no proxy in the environment of the test).
    const o = { http: await pullClient(limits), signal: new AbortController().signal, concurrency: 4 };
    const { dir, hashed } = await pullServedBundle(site.url, cache, o);
    const sums = (await readFile(join(dir, 'SHA256SUMS'), 'utf8')).trim().split('\n');
    const sizes = await Promise.all(sums.map(async (l) => ({ path: l.slice(66), size: (await readFile(join(dir, l.slice(66)))).length })));
    const big = sizes.sort((a, b) => b.size - a.size)[0]!;
    const whole = await readFile(join(dir, big.path));
    await rm(join(dir, big.path));
    await writeFile(join(dir, `${big.path}.part`), whole.subarray(0, whole.length >> 1));
    const before = log.length;
    expect((await pullServedBundle(site.url, cache, o)).dir).toBe(dir);
    expect(await readFile(join(dir, big.path))).toEqual(whole);
    const got = log.slice(before).filter((l) => l.path === `/bundle/${big.path}`);
    expect(got).toMatchObject([{ status: 206, bytes: whole.length - (whole.length >> 1) }]);
    // verify takes what the pull hashed as checked, but not a file changed since (its mtime moved).
    const { verifyBundle } = await import('../src/bundle/verify.js');
    const files: string[] = [];
    const checked = await verifyBundle(dir, { hashed, report: (e) => void (e.type === 'verify:file' && files.push(e.path)) });
    expect(checked.ok).toBe(true);
    expect(files.length).toBe(sums.length);
    const flipped = Buffer.from(whole);
    flipped[0]! ^= 0xff;
    await writeFile(join(dir, big.path), flipped);
    const after = await verifyBundle(dir, { hashed });
    expect(after.problems).toMatchObject([{ code: 'DIGEST_MISMATCH', path: big.path }]);
    await o.http.close();
  }, 180_000);

  it("verify and install take the served bundle's URL: fetched into the cache, every byte checked, then as from a stick", async () => {
    const cache = join(fx.work, 'pull-cache');
    const v = await runCli(['--cache-dir', cache, 'verify', `${site.url}/`, '--key', fx.release.pub]);
    expect(v.stderr).toContain('every file checked against its SHA256SUMS');
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^OK site-test 1\.0\.0: .*signature by [0-9A-F]{40} valid/m);
    // Again: nothing is fetched twice (the files in the cache have their hashes).
    const before = log.length;
    expect((await runCli(['--cache-dir', cache, 'verify', `${site.url}/`])).code).toBe(0);
    expect(log.slice(before).filter((l) => l.path.startsWith('/bundle/blobs/')).length).toBe(0);
    const i = await runCli([
      '--cache-dir',
      cache,
      'install',
      `${site.url}/`,
      '--dry-run',
      '--only',
      'file',
      '--ignore-target',
      '--state-dir',
      join(fx.work, 'state'),
    ]);
    expect(i.code, i.stderr).toBe(0);
  }, 120_000);

  it('with a token: 401 without it, 200 with Bearer (HF_TOKEN) or basic auth', async () => {
    const s = await serve(fx.bundle, { token: 'sekrit-token-123' });
    try {
      expect((await fetch(`${s.url}/bundle.json`)).status).toBe(401);
      expect((await fetch(`${s.url}/bundle.json`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${s.url}/bundle.json`, { headers: { authorization: 'Bearer sekrit-token-123' } })).status).toBe(200);
      const basic = Buffer.from('apt:sekrit-token-123').toString('base64');
      expect((await fetch(`${s.url}/apt/InRelease`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
    } finally {
      await s.drain(100);
    }
  });

  it('the CLI verifies first, prints the client lines, and Ctrl-C drains and exits 0', { timeout: 60_000 }, async () => {
    const r = await runCli(['serve', fx.bundle, '--listen', '127.0.0.1:0', '--key', fx.release.pub], {
      signalWhen: { pattern: /HF_ENDPOINT=/, signal: 'SIGINT', delayMs: 200 },
    });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^serving site-test 1\.0\.0 \(verified, signature valid\) on http:\/\/127\.0\.0\.1:\d+; Ctrl-C stops$/m);
    expect(r.stdout).toMatch(/deb \[signed-by=.*\] http:\/\/127\.0\.0\.1:\d+\/apt \.\//);
    expect(r.stdout).toMatch(/pip install --index-url http:\/\/127\.0\.0\.1:\d+\/simple\/ --require-hashes/);
    expect(r.stdout).toMatch(/export HF_ENDPOINT=http:\/\/127\.0\.0\.1:\d+\/hf HF_HUB_OFFLINE=0/);
    // A bundle that fails verify is never served.
    const lines = clientLines({ name: 'x', version: '1', entries: [], pathsInfo: new Map(), has: { pip: false, hf: [], files: 0 } }, 'http://h:1');
    expect(lines).toEqual(['check: http://h:1/SHA256SUMS, http://h:1/bundle.json']);
  });
});
