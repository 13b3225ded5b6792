import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { gpg, type SigningKey } from './gpg.js';
import { createServer, type Server } from 'node:http';
import { basename, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface FakePackage {
  name: string;
  version: string;
  arch?: string;
  /** The control file's Source field: `name` or `name (version)` (absent: the package is its own source). */
  source?: string;
  depends?: string;
  recommends?: string;
  provides?: string;
  /** Bytes of a file the package installs, to make the .deb differ. */
  payload?: string;
  /** A preinst maintainer script (sh), e.g. one that waits so a test can kill dpkg halfway. */
  preinst?: string;
  /** usr/share/doc/<name>/copyright. */
  copyright?: string;
  /** usr/share/doc/<name> as a symlink to this (another package's doc folder), instead of a folder. */
  docLink?: string;
  /** dpkg-deb -Z (default gzip). */
  compression?: 'gzip' | 'xz' | 'zstd';
  /** A real .deb (from the Debian mirror) to put into the repository as it is; the other fields are ignored. */
  deb?: string;
}

export { makeKey, type SigningKey } from './gpg.js';

export interface RepoOptions {
  suite?: string;
  component?: string;
  packages: FakePackage[];
  key: SigningKey;
  validUntil?: Date;
  date?: Date;
  origin?: string;
}

/** Builds a signed Debian repository (pool/, dists/<suite>/InRelease, Packages, Packages.gz) under `root`. */
export async function makeRepo(root: string, o: RepoOptions): Promise<{ debs: Record<string, string> }> {
  const suite = o.suite ?? 'stable';
  const comp = o.component ?? 'main';
  const debs: Record<string, string> = {};
  const stanzas: string[] = [];
  for (const p of o.packages) {
    if (p.deb) {
      stanzas.push(await realDeb(root, comp, p.deb, debs));
      continue;
    }
    const arch = p.arch ?? 'amd64';
    const src = join(root, '.build', `${p.name}_${p.version}`);
    await mkdir(join(src, 'DEBIAN'), { recursive: true });
    if (p.docLink) {
      await mkdir(join(src, 'usr/share/doc'), { recursive: true });
      await symlink(p.docLink, join(src, 'usr/share/doc', p.name));
      await writeFile(join(src, 'usr/share', `${p.name}.payload`), p.payload ?? `${p.name} ${p.version}\n`);
    } else {
      await mkdir(join(src, 'usr/share/doc', p.name), { recursive: true });
      await writeFile(join(src, 'usr/share/doc', p.name, 'README'), p.payload ?? `${p.name} ${p.version}\n`);
      if (p.copyright !== undefined) await writeFile(join(src, 'usr/share/doc', p.name, 'copyright'), p.copyright);
    }
    const control = [
      `Package: ${p.name}`,
      ...(p.source ? [`Source: ${p.source}`] : []),
      `Version: ${p.version}`,
      `Architecture: ${arch}`,
      'Maintainer: Test <test@test.invalid>',
      ...(p.depends ? [`Depends: ${p.depends}`] : []),
      ...(p.recommends ? [`Recommends: ${p.recommends}`] : []),
      ...(p.provides ? [`Provides: ${p.provides}`] : []),
      'Priority: optional',
      'Section: misc',
      `Description: test package ${p.name}`,
    ];
    await writeFile(join(src, 'DEBIAN/control'), `${control.join('\n')}\n`);
    if (p.preinst) await writeFile(join(src, 'DEBIAN/preinst'), p.preinst, { mode: 0o755 });
    const rel = `pool/${comp}/${p.name}_${p.version.replace(/^\d+:/, '')}_${arch}.deb`;
    await mkdir(join(root, `pool/${comp}`), { recursive: true });
    execFileSync('dpkg-deb', ['--root-owner-group', `-Z${p.compression ?? 'gzip'}`, '--build', src, join(root, rel)], { stdio: 'ignore' });
    const data = await readFile(join(root, rel));
    debs[p.name] = rel;
    const i = control.findIndex((l) => l.startsWith('Description'));
    stanzas.push([...control.slice(0, i), `Filename: ${rel}`, `Size: ${data.length}`, `SHA256: ${sha(data)}`, control[i]].join('\n'));
  }
  const packages = `${stanzas.join('\n\n')}\n`;
  const dir = join(root, 'dists', suite, comp, 'binary-amd64');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Packages'), packages);
  await writeFile(join(dir, 'Packages.gz'), gzipSync(packages));
  await writeRelease(root, o);
  return { debs };
}

/** A real .deb copied into pool/ as it is; its Packages stanza is its control file (dpkg-deb -f) plus where it is. */
async function realDeb(root: string, comp: string, deb: string, debs: Record<string, string>): Promise<string> {
  const control = execFileSync('dpkg-deb', ['-f', deb], { encoding: 'utf8' }).trimEnd();
  const name = /^Package: (.+)$/m.exec(control)![1]!;
  const rel = `pool/${comp}/${basename(deb)}`;
  await mkdir(join(root, `pool/${comp}`), { recursive: true });
  await copyFile(deb, join(root, rel));
  const data = await readFile(join(root, rel));
  debs[name] = rel;
  const at = control.search(/^Description:/m);
  return [control.slice(0, at).trimEnd(), `Filename: ${rel}`, `Size: ${data.length}`, `SHA256: ${sha(data)}`, control.slice(at)].join('\n');
}

/** (Re)writes and signs dists/<suite>/InRelease from the index files present. */
export async function writeRelease(root: string, o: Omit<RepoOptions, 'packages'>): Promise<void> {
  const suite = o.suite ?? 'stable';
  const comp = o.component ?? 'main';
  const base = join(root, 'dists', suite);
  const files = [`${comp}/binary-amd64/Packages`, `${comp}/binary-amd64/Packages.gz`];
  const lines = [];
  for (const f of files) {
    const data = await readFile(join(base, f));
    lines.push(` ${sha(data)} ${String(data.length).padStart(8)} ${f}`);
  }
  const fmt = (d: Date) => d.toUTCString().replace('GMT', 'UTC');
  const release = [
    `Origin: ${o.origin ?? 'Test'}`,
    'Label: Test',
    `Suite: ${suite}`,
    `Codename: ${suite}`,
    `Date: ${fmt(o.date ?? new Date())}`,
    ...(o.validUntil ? [`Valid-Until: ${fmt(o.validUntil)}`] : []),
    'Architectures: amd64',
    `Components: ${comp}`,
    'SHA256:',
    ...lines,
  ].join('\n');
  await writeFile(join(base, 'Release'), `${release}\n`);
  gpg(o.key.home, ['--local-user', o.key.fingerprint, '--clearsign', '--output', join(base, 'InRelease'), join(base, 'Release')]);
}

/** Serves a folder over HTTP on 127.0.0.1 (GET with Range); `requests` records the paths asked for. */
export async function serveDir(root: string): Promise<{ url: string; server: Server; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test server: node ignores the handler's promise, as it always has here
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    requests.push(path);
    const file = join(root, normalize(path));
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Math.min(Number(m[2]), st.size - 1) : st.size - 1;
    res.writeHead(m ? 206 : 200, {
      'content-length': Math.max(0, end - start + 1),
      ...(m ? { 'content-range': `bytes ${start}-${end}/${st.size}` } : {}),
    });
    if (end < start) {
      res.end();
      return;
    }
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

function sha(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}
