import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { signalChild } from '../../src/util/proc.js';

export interface Registry {
  /** host:port */
  host: string;
  data: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A bcrypt htpasswd line, made with python3's crypt (libxcrypt's $2b$): no apache2-utils needed. */
export function htpasswdLine(user: string, password: string): string {
  const hash = execFileSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys;print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<4)))', password],
    { encoding: 'utf8' },
  ).trim();
  return `${user}:${hash}\n`;
}

/** Debian's docker-registry (CNCF distribution 2.8) on a free loopback port, filesystem storage in `dir`. */
export async function startRegistry(
  dir: string,
  o: { tls?: { cert: string; key: string }; htpasswd?: string; token?: { realm: string; service: string; issuer: string; certFile: string } } = {},
): Promise<Registry> {
  const port = await freePort();
  const data = join(dir, 'data');
  await mkdir(data, { recursive: true });
  const auth = o.htpasswd
    ? ['auth:', '  htpasswd:', '    realm: test', `    path: ${join(dir, 'htpasswd')}`]
    : o.token
      ? [
          'auth:',
          '  token:',
          `    realm: ${o.token.realm}`,
          `    service: ${o.token.service}`,
          `    issuer: ${o.token.issuer}`,
          `    rootcertbundle: ${o.token.certFile}`,
        ]
      : [];
  if (o.htpasswd) await writeFile(join(dir, 'htpasswd'), o.htpasswd);
  const cfg = join(dir, 'config.yml');
  await writeFile(
    cfg,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      'storage:',
      `  filesystem: {rootdirectory: ${data}}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(o.tls ? ['  tls:', `    certificate: ${o.tls.cert}`, `    key: ${o.tls.key}`] : []),
      ...auth,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = o.tls
      ? await new Promise<boolean>((r) =>
          connect(port, '127.0.0.1', function (this: Socket) {
            this.destroy();
            r(true);
          }).on('error', () => r(false)),
        )
      : await fetch(`http://${host}/v2/`).then(
          (r) => r.status === 200 || r.status === 401,
          () => false,
        );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    data,
    async close() {
      signalChild(child, 'SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** The registry's file of a blob (to damage it in place). */
export function registryBlob(data: string, hex: string): string {
  return join(data, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

export interface Proxy {
  host: string;
  /** Blob bytes sent to the registry in PUT and PATCH bodies. */
  blobBytes: number;
  /** `METHOD path?query` of every request. */
  requests: string[];
  /** Cut the connection after this many bytes of the next blob GET answer longer than that (once). */
  cutAfter?: number;
  /** Answer 400 MANIFEST_INVALID to a manifest with artifactType (a registry older than OCI 1.1). */
  refuseArtifactType?: boolean;
  /** Let this many PATCH requests through, then answer 500 to every PATCH (a push that dies half-way). */
  failPatchAfter?: number;
  /** Answer every request with this status (and Retry-After: 7 for a 429). */
  failWith?: number;
  close(): Promise<void>;
}

/** A counting proxy in front of the registry: what a client sends and fetches, seen from outside it. */
export async function startProxy(target: string): Promise<Proxy> {
  const p: Proxy = { host: '', blobBytes: 0, requests: [], close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    p.requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PATCH' && p.failPatchAfter !== undefined && p.failPatchAfter-- <= 0) {
      req.resume();
      req.on('end', () => res.writeHead(500).end('{"errors":[{"code":"UNKNOWN","message":"injected"}]}'));
      return;
    }
    if (p.failWith) {
      res.writeHead(p.failWith, p.failWith === 429 ? { 'retry-after': '7' } : {}).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
      return;
    }
    if (p.refuseArtifactType && req.method === 'PUT' && req.url!.includes('/manifests/')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.includes('"artifactType"'))
          return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}');
        const fwd = request(
          `http://${target}${req.url}`,
          { method: 'PUT', headers: { ...req.headers, host: target } },
          (up) => (res.writeHead(up.statusCode!, up.headers), up.pipe(res)),
        );
        fwd.end(body);
      });
      return;
    }
    const upload = (req.method === 'PUT' || req.method === 'PATCH') && req.url!.includes('/blobs/uploads/');
    if (upload) req.on('data', (c: Buffer) => (p.blobBytes += c.length));
    const fwd = request(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (up) => {
      const headers = { ...up.headers };
      if (headers.location) headers.location = headers.location.replace(target, p.host);
      res.writeHead(up.statusCode!, headers);
      const big = Number(up.headers['content-length'] ?? 0) > (p.cutAfter ?? Number.POSITIVE_INFINITY);
      const cut = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url!) && big ? p.cutAfter : undefined;
      if (cut === undefined) return void up.pipe(res);
      p.cutAfter = undefined;
      let sent = 0;
      up.on('data', (c: Buffer) => {
        if (sent + c.length >= cut) {
          res.write(c.subarray(0, cut - sent));
          res.socket?.destroy();
          up.destroy();
          return;
        }
        sent += c.length;
        res.write(c);
      });
      up.on('end', () => res.end());
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  p.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  p.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return p;
}
