import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** The certificate the registry trusts tokens from (its rootcertbundle). */
  certFile: string;
  /** scope strings asked for, in order. */
  asked: string[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A v2 token server (the docker/distribution token flow): Basic credentials in, an RS256 JWT out with the
 * requested repository actions, its certificate in the x5c header (the registry checks it against
 * rootcertbundle). `users` maps user → password; `readOnly` users get pull only.
 */
export async function startTokenServer(dir: string, users: Record<string, string>, readOnly: string[] = []): Promise<TokenServer> {
  const key = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', certFile, '-days', '2', '-subj', '/CN=test-token-issuer'], {
    stdio: 'ignore',
  });
  const pem = readFileSync(key, 'utf8');
  const der = Buffer.from(readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const t: TokenServer = { realm: '', service: 'test-registry', issuer: 'test-issuer', certFile, asked: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const auth = req.headers.authorization ?? '';
    const [user, pass] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':') : [];
    if (!user || users[user] !== pass) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const scope = u.searchParams.get('scope') ?? '';
    t.asked.push(scope);
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = s.split(':');
        const want = (actions ?? '').split(',');
        return { type, name, actions: readOnly.includes(user) ? want.filter((a) => a === 'pull') : want };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] }));
    const claims = b64url(JSON.stringify({ iss: t.issuer, sub: user, aud: t.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const sig = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(pem);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${b64url(sig)}`, expires_in: 300 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  t.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return t;
}
