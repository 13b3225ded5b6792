import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type SigningKey } from './helpers/apt-repo.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';
import { gpgExport } from './helpers/gpg.js';

/**
 * The sh entry points a bundle carries (./verify, ./vault-bundle), run as on the box: sh, coreutils, gpgv and
 * nothing else on PATH, no node.
 */
let work: string;
let bundle: string;
let rel: SigningKey;
const keys = { pub: '', sec: '', otherPub: '' };
const PATH = '/usr/bin:/bin';
const root = process.getuid?.() === 0;

function sh(script: string, args: string[], o: { env?: Record<string, string>; cwd?: string } = {}) {
  return spawnSync('sh', [script, ...args], { env: { PATH, ...o.env }, cwd: o.cwd ?? work, encoding: 'utf8' });
}

/** A copy of the bundle made of hard links (the 100 MB node is not copied): replace files, never write into them. */
async function linked(parent?: string): Promise<string> {
  const d = join(parent ?? (await tempDir()), 'bundle');
  execFileSync('cp', ['-al', bundle, d]);
  return d;
}

/** Replaces a file of a linked copy and its SHA256SUMS line (as someone who cannot sign would). */
async function swap(dir: string, path: string, text: string): Promise<void> {
  await rm(join(dir, path));
  await writeFile(join(dir, path), text);
  const sums = join(dir, 'SHA256SUMS');
  const lines = (await readFile(sums, 'utf8'))
    .split('\n')
    .map((l) => (l.endsWith(`  ${path}`) ? `${createHash('sha256').update(text).digest('hex')}  ${path}` : l));
  await rm(sums);
  await writeFile(sums, lines.join('\n'));
}

/** A runtime/node the stick lost its exec bit on: a real copy (a chmod on a link would change the cache's). */
async function withoutExecBit(dir: string): Promise<void> {
  const node = join(dir, 'runtime/node');
  await copyFile(node, `${node}.copy`);
  await rm(node);
  await copyFile(`${node}.copy`, node);
  await rm(`${node}.copy`);
  await chmod(node, 0o644);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-entry-'));
  rel = await makeKey(work, 'Release');
  const other = await makeKey(work, 'Other');
  keys.pub = gpgExport(rel, false, join(work, 'release.asc'));
  keys.sec = gpgExport(rel, true, join(work, 'release.sec.asc'));
  keys.otherPub = gpgExport(other, false, join(work, 'other.asc'));
  const { manifest } = await fileManifest(work, { name: 'entry', sizes: [100, 5000] });
  bundle = join(work, 'b');
  const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', manifest, '--out', bundle, '--runtime', 'host', '--sign-key', keys.sec]);
  expect(b.code).toBe(0);
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('./verify and ./vault-bundle with --key: gpgv checks SHA256SUMS.asc before anything from runtime/ runs', () => {
  it('a swapped runtime/vault-bundle.cjs with its SHA256SUMS line updated is refused, never run', async () => {
    const d = await linked();
    const mark = join(d, '..', 'ran');
    await swap(
      d,
      'runtime/vault-bundle.cjs',
      `require('fs').writeFileSync(${JSON.stringify(mark)}, 'ran');\nconsole.log('OK entry 1.0.0: 7 files verified; signature by ${rel.fingerprint} valid');\n`,
    );
    for (const [script, args] of [
      ['verify', ['--key', keys.pub, '--require-signature']],
      ['verify', [`--key=${keys.pub}`]],
      ['vault-bundle', ['install', d, '--dry-run', '--key', keys.pub]],
    ] as const) {
      const r = sh(join(d, script), [...args]);
      expect(r.stdout).not.toContain('OK');
      expect(r.stderr).toMatch(/BAD signature/);
      expect(r.stderr).toContain(`${script}: SIGNATURE_INVALID: SHA256SUMS.asc does not verify against the release key`);
      expect(r.stderr).toContain('nothing from this bundle was run');
      expect(r.status).toBe(4);
      await expect(readFile(mark, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // Without a key only the (unsigned) checksums stand between the box and that script: it runs.
    sh(join(d, 'verify'), []);
    expect(await readFile(mark, 'utf8')).toBe('ran');
  });

  it('the right key passes (armoured, binary, several keys in one file, CRLF); another key, a missing signature, no gpgv are refused', async () => {
    const ok = (key: string) => {
      const r = sh(join(bundle, 'verify'), ['--key', key]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^OK entry 1\\.0\\.0: .*signature by ${rel.fingerprint} valid`, 'm'));
      expect(r.status).toBe(0);
    };
    ok(keys.pub);
    ok(rel.keyring);
    const both = join(work, 'both.gpg');
    await writeFile(both, Buffer.concat([await readFile(join(work, 'Other.gpg')), await readFile(rel.keyring)]));
    ok(both);
    const crlf = join(work, 'crlf.asc');
    await writeFile(crlf, (await readFile(keys.pub, 'utf8')).replace(/\n/g, '\r\n'));
    ok(crlf);

    // Signed by someone else as far as this key can tell: gpgv's refusal, before the JS side runs.
    const other = sh(join(bundle, 'verify'), ['--key', keys.otherPub]);
    expect(other.status).toBe(4);
    expect(other.stderr).toMatch(/No public key[\s\S]*verify: SIGNATURE_INVALID/);

    const d = await linked();
    await rm(join(d, 'SHA256SUMS.asc'));
    const unsigned = sh(join(d, 'vault-bundle'), ['install', '.', '--key', keys.pub], { cwd: d });
    expect(unsigned.status).toBe(4);
    expect(unsigned.stderr).toContain('vault-bundle: UNSIGNED: SHA256SUMS.asc: missing');

    // A PATH with everything but gpgv.
    const bin = join(work, 'bin-no-gpgv');
    await mkdir(bin, { recursive: true });
    for (const f of await readdir('/usr/bin')) if (f !== 'gpgv') await symlink(join('/usr/bin', f), join(bin, f)).catch(() => undefined);
    const nogpgv = spawnSync('sh', [join(bundle, 'verify'), '--key', keys.pub], { env: { PATH: bin }, encoding: 'utf8' });
    expect(nogpgv.status).toBe(4);
    expect(nogpgv.stderr).toMatch(/gpgv is not installed[\s\S]*hint: install gpgv/);
  });

  it('a changed runtime file is refused whichever hashes it: python3 (hashlib), sha256sum without it, sha256sum after a broken python3', async () => {
    const d = await linked();
    await rm(join(d, 'runtime/vault-bundle.cjs'));
    await writeFile(join(d, 'runtime/vault-bundle.cjs'), 'console.log("not the packed CLI")\n');
    const bins: Record<string, string> = {};
    for (const [name, py] of [
      ['no-python', undefined],
      ['broken-python', '#!/bin/sh\nexit 3\n'],
    ] as const) {
      const bin = join(work, `bin-${name}`);
      await mkdir(bin, { recursive: true });
      for (const f of await readdir('/usr/bin')) if (!/^python3/.test(f)) await symlink(join('/usr/bin', f), join(bin, f)).catch(() => undefined);
      if (py) {
        await writeFile(join(bin, 'python3'), py);
        await chmod(join(bin, 'python3'), 0o755);
      }
      bins[name] = bin;
    }
    for (const path of [PATH, bins['no-python']!, bins['broken-python']!]) {
      const bad = spawnSync('sh', [join(d, 'verify')], { env: { PATH: path }, encoding: 'utf8' });
      expect(bad.status, `${path}: ${bad.stderr}`).toBe(4);
      expect(bad.stderr).toContain('runtime/vault-bundle.cjs: FAILED');
      expect(bad.stderr).toContain('the carried runtime does not match SHA256SUMS');
      expect(bad.stdout).not.toContain('not the packed CLI');
      const good = spawnSync('sh', [join(bundle, 'verify'), '--key', keys.pub], { env: { PATH: path }, encoding: 'utf8' });
      expect(good.status, `${path}: ${good.stderr}`).toBe(0);
    }
  });

  it('a key file that is not a usable public key, or --require-signature alone, is a usage error (64)', async () => {
    const cases: [string[], RegExp][] = [
      [['--key', keys.sec], /is a secret key: the box checks with the release public key/],
      [['--key', join(work, 'm.yaml')], /is not an OpenPGP public key/],
      [['--key', join(work, 'nope.asc')], /cannot read the release key/],
      [['--key'], /--key needs the release key file/],
      [['--require-signature'], /--require-signature needs --key/],
    ];
    for (const [args, msg] of cases) {
      const r = sh(join(bundle, 'verify'), args);
      expect(r.stderr, args.join(' ')).toMatch(msg);
      expect(r.status).toBe(64);
    }
    // sign's --key is the secret key: the wrapper leaves it to sign, also after a global option and its value.
    const signed = sh(join(bundle, 'vault-bundle'), ['--cache-dir', join(work, 'cache'), 'sign', '--help']);
    expect(signed.stderr).not.toMatch(/secret key|UNSIGNED/);
    expect(signed.status).toBe(0);
    const viaSign = sh(join(bundle, 'vault-bundle'), ['sign', join(work, 'nowhere'), '--key', keys.sec]);
    expect(viaSign.stderr).not.toMatch(/is a secret key: the box checks/);
    expect(viaSign.stderr).toMatch(/nowhere/);
  });
});

describe('./verify arguments', () => {
  it('accepts its own folder as a path ("." or absolute), refuses another folder, and its help names ./verify', async () => {
    for (const [args, cwd] of [
      [['.'], bundle],
      [[bundle, '--key', keys.pub], work],
      [['--base', work, `${bundle}/../b`], work],
    ] as const) {
      const r = sh(join(bundle, 'verify'), [...args], { cwd });
      expect(r.stdout, args.join(' ')).toMatch(/^OK entry 1\.0\.0/m);
      expect(r.status).toBe(0);
    }
    const other = await linked();
    const r = sh(join(bundle, 'verify'), [other]);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(`${other} is another bundle folder; this ./verify checks the folder it is in (${bundle})`);
    expect(r.stderr).toContain(`hint: run that folder's own verify: sh ${other}/verify`);
    const notBundle = sh(join(bundle, 'verify'), ['/usr']);
    expect(notBundle.status).toBe(64);
    expect(notBundle.stderr).toContain('takes no other path');

    const help = sh(join(bundle, 'verify'), ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: \.\/verify \[options\]/m);
    expect(help.stdout).toContain('--key <file>');
    expect(help.stdout).not.toContain('Arguments:');
  });
});

describe('NODE_EXTRA_CA_CERTS', () => {
  // node loads the file as it starts, before any script, and warns when it cannot: the warning shows who got it.
  const warned = /Ignoring extra certs from/;
  const env = { NODE_EXTRA_CA_CERTS: '/nonexistent/extra-ca.pem' };

  it('is not handed to verify (no TLS there; its load is start-up time), and still to the commands that fetch', () => {
    for (const [script, args] of [
      ['verify', []],
      ['vault-bundle', ['verify', '.']],
      ['vault-bundle', ['-q', '--cache-dir', join(work, 'c'), 'verify', '.']],
    ] as const) {
      const r = sh(join(bundle, script), [...args], { env, cwd: bundle });
      expect(r.stdout, `${script} ${args.join(' ')}`).toMatch((args as readonly string[]).includes('-q') ? /^$/ : /^OK entry 1\.0\.0/m);
      expect(r.stderr).not.toMatch(warned);
      expect(r.status).toBe(0);
    }
    for (const args of [['--version'], ['inspect', '.'], ['--cache-dir', 'verify', '--version']]) {
      const r = sh(join(bundle, 'vault-bundle'), args, { env, cwd: bundle });
      expect(r.stderr, args.join(' ')).toMatch(warned);
    }
  });
});

describe('TMPDIR: the node copy when the stick drops exec bits', () => {
  let noexec: string;
  beforeAll(async () => {
    noexec = await linked(await mkdtemp(join(work, 'noexec-')));
    await withoutExecBit(noexec);
  });

  it('works from a TMPDIR whose name holds "#", and leaves nothing there', async () => {
    const t = join(await tempDir(), 'odd#dir');
    await mkdir(t);
    const r = sh(join(noexec, 'verify'), ['--key', keys.pub], { env: { TMPDIR: t } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^OK entry 1\.0\.0/m);
    expect(r.status).toBe(0);
    expect(await readdir(t)).toEqual([]);
  });

  it('falls back to $HOME when TMPDIR is missing, saying so', async () => {
    const home = await tempDir();
    const r = sh(join(noexec, 'verify'), [], { env: { TMPDIR: join(home, 'missing'), HOME: home } });
    expect(r.stderr).toContain(`verify: note: ${join(home, 'missing')} is not writable or does not let programs run (noexec); using ${home}`);
    expect(r.status).toBe(0);
    expect(await readdir(home)).toEqual([]);
  });

  it.skipIf(!root)('noexec mounts: falls back to $HOME; with no usable folder, says how to set TMPDIR (exit 5)', async () => {
    const t = await tempDir();
    const home = await tempDir();
    // A private mount namespace: tmpfs mounted noexec over TMPDIR, /dev/shm and /var/tmp, as on a hardened box.
    const run = (homeVar: string) =>
      spawnSync('unshare', ['-m', 'sh', '-c', `for d in "$T" /dev/shm /var/tmp; do mount -t tmpfs -o noexec tmpfs "$d" || exit 99; done; exec sh "$V"`], {
        env: { PATH, T: t, V: join(noexec, 'verify'), TMPDIR: t, ...(homeVar ? { HOME: homeVar } : {}) },
        encoding: 'utf8',
      });
    const fallback = run(home);
    expect(fallback.stderr).toContain(`using ${home}`);
    expect(fallback.stdout).toMatch(/^OK entry 1\.0\.0/m);
    expect(fallback.status).toBe(0);
    const none = run('');
    expect(none.status).toBe(5);
    expect(none.stderr).toContain('verify: no folder to run the carried node from');
    expect(none.stderr).toContain('hint: set TMPDIR to a writable folder that allows running programs, e.g. TMPDIR=/root sh ./verify');
  });

  it('Ctrl-C while node is being copied exits 130 and removes the copy', async () => {
    const t = await tempDir();
    const child = spawn('sh', [join(noexec, 'verify')], { env: { PATH, TMPDIR: t }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // As a terminal's Ctrl-C: SIGINT to the whole process group, once the copy has begun.
    for (let i = 0; i < 2000; i++) {
      const [d] = await readdir(t);
      if (d && (await readdir(join(t, d))).includes('node')) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    process.kill(-child.pid!, 'SIGINT');
    expect(await done).toBe(130);
    expect(stderr).toContain('verify: interrupted');
    expect(await readdir(t)).toEqual([]);
  });
});

describe('Ctrl-C while verify hashes', () => {
  it('stops the hashing threads and exits 130 with "interrupted", instead of hashing on and printing a result', async () => {
    const d = await linked();
    const idx = JSON.parse(await readFile(join(d, 'bundle.json'), 'utf8')) as { artifacts: { digest: string }[] };
    // A 256 GiB sparse file where a blob should be: minutes of hashing even with SHA-NI, no disk; so stopping
    // within the bound below (generous for a loaded 2-core CI machine) can only mean the threads were stopped.
    const blob = join(d, 'blobs/sha256', idx.artifacts[0]!.digest.slice('sha256:'.length));
    await rm(blob);
    execFileSync('truncate', ['-s', '256G', blob]);
    const child = spawn('sh', [join(d, 'verify')], { env: { PATH }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Signal once node itself runs (the sh wrapper's runtime check takes seconds on a loaded machine), then give
    // its hashing threads a moment to start.
    for (let i = 0; i < 600 && spawnSync('pgrep', ['-g', String(child.pid), '-x', 'node']).status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const sent = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    expect(await done).toBe(130);
    expect(Date.now() - sent).toBeLessThan(30_000);
    expect(out).toContain('interrupting: cleaning up');
    expect(out).toMatch(/^error: interrupted\nhint: nothing was changed/m);
    expect(out).not.toMatch(/^(OK|FAILED) /m);
    expect(out).not.toContain('verify: interrupted'); // node said it; the sh wrapper does not say it twice
  });
});
