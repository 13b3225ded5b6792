import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { RegistryClient } from '../src/oci/client.js';
import { exportLayout, layoutSource } from '../src/oci/layout.js';
import { pullBundle } from '../src/oci/pull.js';
import { pushBundle } from '../src/oci/push.js';
import { parseRef } from '../src/oci/ref.js';
import { registrySource } from '../src/oci/source.js';
import type { Reporter, VaultEvent } from '../src/util/events.js';
import { walk } from '../src/util/fs.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { makeKey } from './helpers/apt-repo.js';
import { fileManifest, flipByte } from './helpers/fixtures.js';
import { type Proxy, type Registry, htpasswdLine, registryBlob, startProxy, startRegistry } from './helpers/registry.js';
import { tempDir } from './helpers/tmp.js';
import { startTokenServer } from './helpers/token-server.js';
import { gpgExport } from './helpers/gpg.js';

const quiet = () => {};
let work: string;
let reg: Registry;
let proxy: Proxy;
let v1: string;
let v2: string;
let bigHex: string;

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await walk(dir)) {
    if (e.kind !== 'file') continue;
    const s = await stat(join(dir, e.path));
    out[e.path] = `${(s.mode & 0o777).toString(8)} ${createHash('sha256')
      .update(await readFile(join(dir, e.path)))
      .digest('hex')}`;
  }
  return out;
}

function client(host: string, repo: string, o: { plain?: boolean } = {}): RegistryClient {
  return new RegistryClient(parseRef(`oci://${host}/${repo}`), o.plain ? { plainHttp: true } : {});
}

async function push(host: string, repo: string, dir: string, chunkSize?: number) {
  const c = client(host, repo);
  try {
    return await pushBundle(c, dir, { concurrency: 4, report: quiet, ...(chunkSize ? { chunkSize } : {}) });
  } finally {
    await c.close();
  }
}

async function pull(host: string, ref: string, dir: string, report: Reporter = quiet) {
  const c = client(host, ref);
  try {
    return await pullBundle(registrySource(c), dir, { concurrency: 4, report });
  } finally {
    await c.close();
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-oci-'));
  const fx = join(work, 'fx');
  await mkdir(fx);
  const m = await fileManifest(fx, { name: 'ocitest', sizes: [10, 70_000, 3 * 1024 * 1024] });
  bigHex = m.files[2]!.sha256;
  v1 = (await buildIn(work, m.manifest, { out: join(work, 'v1'), cacheDir: join(work, 'cache') })).dir;
  // v2: the same files and one more (a new version shares v1's blobs).
  const extra = join(fx, 'new.bin');
  await writeFile(extra, Buffer.alloc(50_000, 7));
  const h = createHash('sha256').update(Buffer.alloc(50_000, 7)).digest('hex');
  await writeFile(m.manifest, (await readFile(m.manifest, 'utf8')).replace('version: 1.0.0', 'version: 2.0.0'));
  await appendFile(m.manifest, `  - name: new\n    path: ${extra}\n    sha256: ${h}\n`);
  v2 = (await buildIn(work, m.manifest, { out: join(work, 'v2'), cacheDir: join(work, 'cache') })).dir;
  reg = await startRegistry(join(work, 'reg'));
  proxy = await startProxy(reg.host);
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await reg?.close();
  await rm(work, { recursive: true, force: true });
});

describe('push and pull against the CNCF distribution registry', () => {
  it('round-trips a bundle byte for byte; skopeo sees the artifact and its SBOM referrer', async () => {
    const r = await push(proxy.host, 'team/app:1.0', v1);
    expect(r.uploaded).toBe(r.blobs);
    expect(r.referrers).toBe('tag');
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/team/app:1.0`], { encoding: 'utf8' }));
    expect(raw.artifactType).toBe('application/vnd.vault-bundle.v1');
    expect(raw.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(raw.layers.map((l: { annotations: Record<string, string> }) => l.annotations['org.opencontainers.image.title'])).toContain(`blobs/sha256/${bigHex}`);
    const idx = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/team/app:${r.digest.replace(':', '-')}`], { encoding: 'utf8' }),
    );
    expect(idx.manifests[0].artifactType).toBe('application/vnd.cyclonedx+json');
    const sbom = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/team/app@${idx.manifests[0].digest}`], { encoding: 'utf8' }),
    );
    expect(sbom.subject.digest).toBe(r.digest);
    expect(sbom.layers[0].mediaType).toBe('application/vnd.cyclonedx+json');

    const out = join(await tempDir(), 'pulled');
    const p = await pull(reg.host, `team/app@${r.digest}`, out);
    expect(p.digest).toBe(r.digest);
    expect(await tree(out)).toEqual(await tree(v1));
    expect((await verifyBundle(out, {})).ok).toBe(true);
  });

  it('sends 0 blob bytes for an unchanged bundle, only the new blobs for a new version, and PATCH chunks for large ones', async () => {
    await push(proxy.host, 'team/app:1.0', v1);
    proxy.blobBytes = 0;
    proxy.requests = [];
    const again = await push(proxy.host, 'team/app:1.0', v1);
    expect(proxy.blobBytes).toBe(0);
    expect(again.uploaded).toBe(0);
    proxy.requests = [];
    const r2 = await push(proxy.host, 'team/app:2.0', v2);
    const sent = proxy.requests.filter((q) => q.startsWith('PUT') && q.includes('digest=')).map((q) => decodeURIComponent(q.split('digest=')[1]!));
    expect(sent).not.toContain(`sha256:${bigHex}`);
    expect(sent.length).toBe(r2.uploaded);
    // bundle.json, SHA256SUMS, the SBOM and the new file: what changed, nothing else.
    expect(r2.uploaded).toBeLessThanOrEqual(5);
    // A large blob in chunks: 3 MiB in 1 MiB PATCHes to a fresh repository.
    proxy.requests = [];
    await push(proxy.host, 'chunked/app:1', v1, 1024 * 1024);
    expect(proxy.requests.filter((q) => q.startsWith('PATCH')).length).toBeGreaterThanOrEqual(3);
    const out = join(await tempDir(), 'p');
    await pull(reg.host, 'chunked/app:1', out);
    expect((await verifyBundle(out, {})).ok).toBe(true);
  });

  it('resumes a chunked upload that died half-way in an earlier run, sending only what the registry lacks', async () => {
    const stateDir = join(await tempDir(), 'uploads');
    const opts = { concurrency: 1, report: quiet, chunkSize: 1024 * 1024, uploadStateDir: stateDir };
    proxy.failPatchAfter = 2;
    const c1 = client(proxy.host, 'resumed/app:1');
    await expect(pushBundle(c1, v1, opts)).rejects.toMatchObject({ code: 'OCI_HTTP' });
    await c1.close();
    proxy.failPatchAfter = undefined;
    expect(await readdir(stateDir)).toHaveLength(1);
    proxy.blobBytes = 0;
    const c2 = client(proxy.host, 'resumed/app:1');
    const r = await pushBundle(c2, v1, opts);
    await c2.close();
    expect(r.resumedBytes).toBe(2 * 1024 * 1024);
    const big = 3 * 1024 * 1024;
    expect(proxy.blobBytes).toBeLessThan(big); // the 2 MiB sent before are not sent again
    expect(await readdir(stateDir)).toHaveLength(0);
    const out = join(await tempDir(), 'p');
    await pull(reg.host, 'resumed/app:1', out);
    expect((await verifyBundle(out, {})).ok).toBe(true);
  });

  it('resumes an interrupted pull, and refuses a blob damaged in the registry, naming it', async () => {
    await push(reg.host, 'resume/app:1', v1);
    const out = join(await tempDir(), 'p');
    proxy.cutAfter = 1024 * 1024;
    const c = new RegistryClient(parseRef(`oci://${proxy.host}/resume/app:1`), { retries: 0 });
    await expect(pullBundle(registrySource(c), out, { concurrency: 1, report: quiet })).rejects.toThrow();
    await c.close();
    const events: VaultEvent[] = [];
    const res = await pull(proxy.host, 'resume/app:1', out, (e) => events.push(e));
    expect(res.resumed).toBe(1);
    // The progress line's totals are the whole bundle's, what the first pull placed done; the resume says where from.
    const plan = events.find((e) => e.type === 'fetch:plan');
    expect(plan).toMatchObject({ type: 'fetch:plan', files: expect.any(Number) as number });
    expect(events.filter((e) => e.type === 'download:start' && e.resumeFrom > 0)).toHaveLength(1);
    expect(res.fetchedBytes).toBeLessThan(3 * 1024 * 1024);
    expect((await verifyBundle(out, {})).ok).toBe(true);
    expect(await readdir(out)).not.toContain('.vault-bundle-pull');

    await flipByte(registryBlob(reg.data, bigHex), 100);
    const bad = join(await tempDir(), 'bad');
    await expect(pull(reg.host, 'resume/app:1', bad)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', subject: `blobs/sha256/${bigHex}` });
    await flipByte(registryBlob(reg.data, bigHex), 100);
  });

  it('falls back to a config media type where the registry refuses artifactType, and says so', async () => {
    proxy.refuseArtifactType = true;
    const warnings: string[] = [];
    const c = client(proxy.host, 'old/app:1');
    try {
      const r = await pushBundle(c, v1, { concurrency: 4, report: (e) => e.type === 'warn' && warnings.push(e.message) });
      expect(r.fallback).toBe(true);
    } finally {
      proxy.refuseArtifactType = false;
      await c.close();
    }
    expect(warnings.join('\n')).toMatch(/refused the OCI 1\.1 artifact manifest.*config media type application\/vnd\.vault-bundle\.v1/);
    const out = join(await tempDir(), 'p');
    await pull(reg.host, 'old/app:1', out);
    expect((await verifyBundle(out, {})).ok).toBe(true);
  });

  it('types 429 (with Retry-After) and 403 answers', async () => {
    const tooMany = new RegistryClient(parseRef(`oci://${proxy.host}/x/y:1`), { retries: 0 });
    const denied = new RegistryClient(parseRef(`oci://${proxy.host}/x/y:1`), { retries: 0 });
    try {
      proxy.failWith = 429;
      await expect(pullBundle(registrySource(tooMany), join(await tempDir(), 'a'), { concurrency: 1, report: quiet })).rejects.toMatchObject({
        code: 'OCI_RATE_LIMITED',
        message: expect.stringContaining('Retry-After: 7'),
        hint: expect.stringContaining('after 7 s'),
      });
      proxy.failWith = 403;
      await expect(pullBundle(registrySource(denied), join(await tempDir(), 'b'), { concurrency: 1, report: quiet })).rejects.toMatchObject({
        code: 'OCI_DENIED',
      });
    } finally {
      proxy.failWith = undefined;
      await tooMany.close();
      await denied.close();
    }
  });

  it('types registry errors: an unknown tag is OCI_NOT_FOUND, a bad reference OCI_REF', async () => {
    await expect(pull(reg.host, 'team/app:nope', join(await tempDir(), 'x'))).rejects.toMatchObject({ code: 'OCI_NOT_FOUND' });
    // A folder holding something else is never written into.
    await expect(pull(reg.host, 'team/app:1.0', v2)).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    expect(() => parseRef('oci://noslash')).toThrow(expect.objectContaining({ code: 'OCI_REF' }));
    expect(() => parseRef('oci://h:5000/Upper:1')).toThrow(expect.objectContaining({ code: 'OCI_REF' }));
  });
});

describe('a signed bundle', () => {
  it('pulls byte-identical: SHA256SUMS.asc still checks against the release key', async () => {
    const dir = await tempDir();
    const k = await makeKey(dir, 'Release');
    const sec = gpgExport(k, true, join(dir, 'sec.asc'));
    const pub = gpgExport(k, false, join(dir, 'pub.asc'));
    const signed = (await buildIn(dir, join(work, 'fx', 'm.yaml'), { out: join(dir, 'signed'), cacheDir: join(work, 'cache'), signKey: sec })).dir;
    await push(reg.host, 'signed/app:1', signed);
    const out = join(dir, 'pulled');
    await pull(reg.host, 'signed/app:1', out);
    const rep = await verifyBundle(out, { key: pub });
    expect(rep.ok).toBe(true);
    expect(rep.signature?.status).toBe('valid');
  });
});

describe('OCI image layouts with skopeo', () => {
  it('skopeo copy docker:// → oci:DIR reads back into a verifying bundle; an exported layout goes up with skopeo and pulls', async () => {
    await push(reg.host, 'sk/app:1', v1);
    const lay = join(await tempDir(), 'layout');
    execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/sk/app:1`, `oci:${lay}:1`]);
    const out = join(await tempDir(), 'fromlayout');
    await pullBundle(layoutSource(lay, '1'), out, { concurrency: 2, report: quiet });
    expect(await tree(out)).toEqual(await tree(v1));

    const exp = join(await tempDir(), 'export');
    await exportLayout(v2, exp, '2.0');
    const cp = spawnSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${exp}:2.0`, `docker://${reg.host}/sk/exported:2.0`], { encoding: 'utf8' });
    expect(cp.stderr).toBe('');
    const back = join(await tempDir(), 'back');
    await pull(reg.host, 'sk/exported:2.0', back);
    expect(await tree(back)).toEqual(await tree(v2));
    expect((await verifyBundle(back, {})).ok).toBe(true);
  });
});

describe('the CLI and a registry with htpasswd basic auth', () => {
  it('refuses without credentials (OCI_UNAUTHORIZED), pushes with $REGISTRY_AUTH_FILE; verify and install --dry-run take oci://', async () => {
    const dir = await tempDir();
    const authReg = await startRegistry(join(dir, 'reg'), { htpasswd: htpasswdLine('alice', 's3cret') });
    try {
      const env = { HOME: dir, DOCKER_CONFIG: join(dir, 'none'), REGISTRY_AUTH_FILE: join(dir, 'none.json'), XDG_RUNTIME_DIR: '' };
      const ref = `oci://${authReg.host}/secure/app:1.0`;
      const denied = await runCli(['--json', 'push', v1, ref], { env });
      expect(denied.code).toBe(3);
      expect(JSON.parse(denied.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'error', code: 'OCI_UNAUTHORIZED' });
      const authFile = join(dir, 'auth.json');
      await writeFile(authFile, JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
      const ok = { ...env, REGISTRY_AUTH_FILE: authFile };
      const pushed = await runCli(['push', v1, ref], { env: ok });
      expect(pushed.stderr + pushed.stdout).toMatch(/pushed .*secure\/app:1\.0/);
      const cache = join(dir, 'cache');
      const ver = await runCli(['--cache-dir', cache, 'verify', ref], { env: ok });
      expect(ver.stdout).toMatch(/^OK ocitest 1\.0\.0/);
      const inst = await runCli(['--cache-dir', cache, 'install', '--dry-run', '--ignore-target', '--state-dir', join(dir, 'state'), ref], { env: ok });
      expect(inst.code).toBe(0);
      expect(inst.stdout).toMatch(/dry run: ocitest 1\.0\.0/);
      const pulled = await runCli(['pull', ref, join(dir, 'pulled')], { env: ok });
      expect(pulled.code).toBe(0);
      expect(await tree(join(dir, 'pulled'))).toEqual(await tree(v1));
    } finally {
      await authReg.close();
    }
  });
});

describe('TLS with --ca-file', () => {
  it('pushes and pulls over TLS trusting a private CA; without it the certificate is refused', async () => {
    const dir = await tempDir();
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const treg = await startRegistry(join(dir, 'reg'), { tls: { cert, key } });
    try {
      const ref = parseRef(`oci://${treg.host}/tls/app:1`);
      const c = new RegistryClient(ref, { caFile: cert });
      expect(c.base.startsWith('https://')).toBe(true);
      await pushBundle(c, v1, { concurrency: 2, report: quiet });
      const out = join(dir, 'p');
      await pullBundle(registrySource(c), out, { concurrency: 2, report: quiet });
      await c.close();
      expect((await verifyBundle(out, {})).ok).toBe(true);
      const other = join(dir, 'other.crt');
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'o.key'), '-out', other, '-days', '2', '-subj', '/CN=other'],
        { stdio: 'ignore' },
      );
      const u = new RegistryClient(ref, { caFile: other });
      await expect(pullBundle(registrySource(u), join(dir, 'q'), { concurrency: 1, report: quiet })).rejects.toMatchObject({
        code: 'OCI_NETWORK',
        hint: expect.stringContaining('--ca-file'),
      });
      await u.close();
    } finally {
      await treg.close();
    }
  });
});

describe('the v2 token flow (Bearer realm) in front of the registry', () => {
  it('gets a token with Basic credentials, pushes and pulls; a pull-only account is refused the push', async () => {
    const dir = await tempDir();
    const tok = await startTokenServer(dir, { alice: 'pw1', reader: 'pw2' }, ['reader']);
    const treg = await startRegistry(join(dir, 'reg'), { token: tok });
    try {
      const as = (user: string, pw: string, ref: string) =>
        new RegistryClient(parseRef(`oci://${treg.host}/${ref}`), { credentials: { username: user, password: pw } });
      const c = as('alice', 'pw1', 'tok/app:1');
      const r = await pushBundle(c, v1, { concurrency: 4, report: quiet });
      await c.close();
      expect(tok.asked).toContain('repository:tok/app:pull,push');
      const out = join(dir, 'p');
      const rc = as('reader', 'pw2', 'tok/app:1');
      expect((await pullBundle(registrySource(rc), out, { concurrency: 2, report: quiet })).digest).toBe(r.digest);
      await rc.close();
      expect((await verifyBundle(out, {})).ok).toBe(true);
      const wc = as('reader', 'pw2', 'tok/other:1');
      await expect(pushBundle(wc, v1, { concurrency: 2, report: quiet })).rejects.toMatchObject({ code: expect.stringMatching(/OCI_UNAUTHORIZED|OCI_DENIED/) });
      await wc.close();
      const bad = as('alice', 'wrong', 'tok/app:1');
      await expect(pullBundle(registrySource(bad), join(dir, 'q'), { concurrency: 1, report: quiet })).rejects.toMatchObject({ code: 'OCI_UNAUTHORIZED' });
      await bad.close();
    } finally {
      await treg.close();
      await tok.close();
    }
  });
});
