import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { readZipMemberSync } from './zip.js';

export interface PypiOptions {
  /** Folders of wheels/sdists to serve. */
  dirs: string[];
  /** Files served with other bytes than their listed hash. */
  tamper?: string[];
  yanked?: string[];
  /** Serve PEP 658 metadata files (default true). */
  metadata?: boolean;
  /** Answer only PEP 503 HTML (default: JSON when asked for). */
  htmlOnly?: boolean;
}

const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');

/** A simple repository on 127.0.0.1 speaking PEP 691 (JSON) with the PEP 503 HTML fallback, PEP 658 metadata. */
export async function startPypi(o: PypiOptions): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const files = new Map<string, { path: string; data: Buffer; sha256: string; project: string; meta?: Buffer }>();
  for (const d of o.dirs) {
    for (const f of readdirSync(d).filter((x) => /\.(whl|tar\.gz)$/.test(x))) {
      const data = readFileSync(join(d, f));
      const project = norm(f.split('-')[0]!);
      const meta = f.endsWith('.whl') ? readZipMemberSync(data, (n) => /\.dist-info\/METADATA$/.test(n)) : undefined;
      files.set(f, { path: join(d, f), data, sha256: createHash('sha256').update(data).digest('hex'), project, ...(meta ? { meta } : {}) });
    }
  }
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const m = /^\/simple\/([^/]+)\/$/.exec(url.pathname);
    if (m) {
      const project = m[1]!;
      const list = [...files.entries()].filter(([, f]) => f.project === project);
      if (list.length === 0) return void res.writeHead(404).end('not found');
      const wantsJson = !o.htmlOnly && /application\/vnd\.pypi\.simple\.v1\+json/.test(req.headers.accept ?? '');
      const withMeta = o.metadata !== false;
      if (wantsJson) {
        const body = {
          meta: { 'api-version': '1.1' },
          name: project,
          files: list.map(([name, f]) => ({
            filename: name,
            url: `../../files/${name}`,
            hashes: { sha256: f.sha256 },
            size: f.data.length,
            ...(o.yanked?.includes(name) ? { yanked: 'test' } : {}),
            ...(withMeta && f.meta ? { 'core-metadata': { sha256: createHash('sha256').update(f.meta).digest('hex') } } : {}),
          })),
        };
        res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' }).end(JSON.stringify(body));
        return;
      }
      const anchors = list.map(
        ([name, f]) =>
          `<a href="../../files/${name}#sha256=${f.sha256}"${o.yanked?.includes(name) ? ' data-yanked=""' : ''}${withMeta && f.meta ? ` data-dist-info-metadata="sha256=${createHash('sha256').update(f.meta).digest('hex')}"` : ''}>${name}</a><br/>`,
      );
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><body>${anchors.join('\n')}</body></html>`);
      return;
    }
    const fm = /^\/files\/([^/]+?)(\.metadata)?$/.exec(url.pathname);
    const f = fm && files.get(fm[1]!);
    if (!f) return void res.writeHead(404).end();
    let data = fm[2] ? f.meta : f.data;
    if (!data) return void res.writeHead(404).end();
    if (!fm[2] && o.tamper?.includes(fm[1]!)) data = Buffer.concat([data.subarray(0, data.length - 1), Buffer.from([data[data.length - 1]! ^ 1])]);
    const r = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (r) {
      const start = Number(r[1]);
      const end = r[2] ? Math.min(Number(r[2]), data.length - 1) : data.length - 1;
      res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${data.length}` }).end(data.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/simple`,
    requests,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
