import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';
import { fileManifest, sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

function noStack(s: string): void {
  expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('cli', () => {
  it('builds, verifies and inspects, with --json for machines', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const cache = ['--cache-dir', join(dir, 'cache')];
    const b = await runCli([...cache, 'build', manifest, '--out', join(dir, 'out'), '--runtime', 'none']);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^built .*out: 3 artifacts, 5 files in SHA256SUMS/m);
    const v = await runCli(['verify', join(dir, 'out')]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^OK test 1\.0\.0: 5 files/m);
    const vj = await runCli(['--json', 'verify', join(dir, 'out')]);
    const last = JSON.parse(vj.stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ type: 'result', ok: true, files: 5, problems: [] });
    const i = await runCli(['inspect', join(dir, 'out')]);
    expect(i.stdout).toMatch(/^file: 3 /m);
    expect(i.stdout).toContain('f2');
    const ij = await runCli(['--json', 'inspect', join(dir, 'out')]);
    expect(JSON.parse(ij.stdout)).toMatchObject({ name: 'test', totals: { artifacts: 3 }, byKind: { file: { count: 3 } } });
  });

  it('--json build emits an event stream and a result', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const b = await runCli(['--json', '--cache-dir', join(dir, 'c'), 'build', manifest, '--out', join(dir, 'o'), '--runtime', 'none']);
    const events = b.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['phase', 'download:start', 'download:done', 'result']));
    expect(events.at(-1)!.type).toBe('result');
  });

  it('a file left in the bundle folder fails verify with exit 4, named as not in the bundle; a changed one as damage', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await runCli(['-q', '--cache-dir', join(dir, 'c'), 'build', manifest, '--out', join(dir, 'o'), '--runtime', 'none']);
    await writeFile(join(dir, 'o', 'extra.txt'), 'x');
    const v = await runCli(['verify', join(dir, 'o')]);
    expect(v.code).toBe(4);
    expect(v.stderr).toContain(
      "EXTRA_FILE: 1 file not in the bundle (listed below): move them out of the bundle folder; the bundle's own files are intact\n  extra.txt\n",
    );
    expect(v.stdout).toMatch(/^FAILED test 1\.0\.0: 1 file\(s\) not in the bundle left in /m);
    // Damage is still damage: a changed byte is named as such.
    const blob = (await readdir(join(dir, 'o', 'blobs/sha256')))[0]!;
    await chmod(join(dir, 'o', 'blobs/sha256', blob), 0o644);
    await appendFile(join(dir, 'o', 'blobs/sha256', blob), 'x');
    const d = await runCli(['verify', join(dir, 'o')]);
    expect(d.code).toBe(4);
    expect(d.stderr).toMatch(/^DIGEST_MISMATCH: blobs\/sha256\//m);
  });

  it('bad input: one clear message, a hint, no stack trace, the documented exit code', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'bad.yaml'),
      'name: x\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - name: a\n    url: https://example.invalid/a\n',
    );
    const r = await runCli(['build', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*bad\.yaml:5: files\[0\]\.sha256: missing required field/m);
    expect(r.stderr).toMatch(/^hint: /m);
    noStack(r.stderr);

    const missing = await runCli(['build', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: no such file');

    const notBundle = await runCli(['verify', join(dir, 'nothing-here')]);
    expect(notBundle.code).toBe(64);
    noStack(notBundle.stderr);

    const usage = await runCli(['build']);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain("missing required argument 'manifest'");

    // An empty key (--key "$UNSET") is not "no key": the signature check would silently not happen.
    for (const args of [
      ['verify', dir, '--key', ''],
      ['verify', dir, '--key='],
      ['install', dir, '--key', '', '--dry-run'],
    ]) {
      const empty = await runCli(args);
      expect(empty.code, args.join(' ')).toBe(64);
      expect(empty.stderr).toContain("option '--key <file>' argument '' is invalid. expected a file path, got an empty value");
    }
    // --json records and a tar on stdout would mix into one stream.
    const mixed = await runCli(['--json', 'build', join(dir, 'bad.yaml'), '--tar', '/dev/stdout']);
    expect(mixed.code).toBe(64);
    expect(mixed.stderr).toContain('--json writes its records to stdout, where --tar sends the tar');
  });

  it('a bundle carries its runtime: ./verify needs only sh and coreutils, refuses a damaged runtime, and needs no network', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const out = join(dir, 'b');
    const b = await runCli(['-q', '--cache-dir', join(dir, 'c'), 'build', manifest, '--out', out]);
    expect(b.code).toBe(0);
    const idx = JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8'));
    expect(idx.runtime.map((r: { path: string }) => r.path)).toEqual([
      'runtime/node',
      'runtime/vault-bundle.cjs',
      'runtime/boot.cjs',
      'runtime/vault-bundle.cache',
    ]);
    const sbom = JSON.parse(await readFile(join(out, 'sbom.cdx.json'), 'utf8'));
    expect(sbom.components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['node', 'vault-bundle']));
    // A PATH with no node at all: the bundle runs its own.
    const env = { PATH: '/usr/bin:/bin' };
    const ok = spawnSync('sh', [join(out, 'verify')], { env, encoding: 'utf8' });
    expect(ok.stdout).toMatch(/^OK test 1\.0\.0: \d+ files/m);
    expect(ok.status).toBe(0);
    const inspect = spawnSync(join(out, 'vault-bundle'), ['inspect', out], { env, encoding: 'utf8' });
    expect(inspect.stdout).toContain('test 1.0.0');
    const readme = await readFile(join(out, 'README-FIELD.txt'), 'utf8');
    expect(readme).toContain('./verify');
    // A stick that drops exec bits (FAT32 mounted with showexec): node runs from a checked copy in $TMPDIR.
    await chmod(join(out, 'runtime/node'), 0o644);
    const scratch = join(dir, 'scratch');
    await mkdir(scratch);
    const noexec = spawnSync('sh', [join(out, 'verify')], { env: { ...env, TMPDIR: scratch }, encoding: 'utf8' });
    expect(noexec.stdout).toMatch(/^OK test 1\.0\.0/m);
    expect(noexec.status).toBe(0);
    expect(await readdir(scratch)).toEqual([]);
    await chmod(join(out, 'runtime/node'), 0o755);
    // No network: verify in a namespace without interfaces (root only, as on the box).
    if (process.getuid?.() === 0) {
      const netless = spawnSync('unshare', ['-n', 'sh', join(out, 'verify')], { env, encoding: 'utf8' });
      expect(netless.status).toBe(0);
    }
    // A damaged runtime is refused before anything in it runs.
    await chmod(join(out, 'runtime/vault-bundle.cjs'), 0o644);
    await appendFile(join(out, 'runtime/vault-bundle.cjs'), '\nprocess.exit(0)\n');
    const bad = spawnSync('sh', [join(out, 'verify')], { env, encoding: 'utf8' });
    expect(bad.status).toBe(4);
    expect(bad.stderr).toContain('carried runtime does not match SHA256SUMS');
  });

  it("--help lists the commands; each command's --help also shows the global options", async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['lock', 'build', 'verify', 'inspect', 'schema']) expect(r.stdout).toContain(c);
    for (const c of ['build', 'lock']) {
      const h = await runCli([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/^Global Options:/m);
      for (const g of ['--json', '--cache-dir <dir>', '--concurrency <n>']) expect(h.stdout).toContain(g);
    }
  });

  it('lock writes <manifest>.lock.json or --out', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const r = await runCli(['lock', manifest]);
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'm.lock.json'), 'utf8')).artifacts).toHaveLength(3);
    const r2 = await runCli(['lock', manifest, '--out', join(dir, 'other.json')]);
    expect(r2.code).toBe(0);
    await expect(stat(join(dir, 'other.json'))).resolves.toBeTruthy();
  });

  it.skipIf(process.getuid?.() !== 0)(
    'lock --out into a device node writes into it and leaves it a device; a symlink keeps pointing at its target',
    async () => {
      const dir = await tempDir();
      const { manifest } = await fileManifest(dir);
      // A null device of our own, never the system's /dev/null.
      const dev = join(dir, 'null');
      expect(spawnSync('mknod', ['-m', '666', dev, 'c', '1', '3']).status).toBe(0);
      const r = await runCli(['lock', manifest, '--out', dev]);
      expect(r.code).toBe(0);
      expect((await lstat(dev)).isCharacterDevice()).toBe(true);
      await writeFile(join(dir, 'real.json'), '{}');
      await symlink('real.json', join(dir, 'link.json'));
      expect((await runCli(['lock', manifest, '--out', join(dir, 'link.json')])).code).toBe(0);
      expect((await lstat(join(dir, 'link.json'))).isSymbolicLink()).toBe(true);
      expect(JSON.parse(await readFile(join(dir, 'real.json'), 'utf8')).artifacts).toHaveLength(3);
      const folder = await runCli(['lock', manifest, '--out', dir]);
      expect(folder.code).toBe(5);
      expect(folder.stderr).toContain('it is a folder');
      noStack(folder.stderr);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'build refuses a read-only --tar folder before fetching, keeps the old bundle, and streams --tar into a device',
    async () => {
      const dir = await tempDir();
      const { manifest } = await fileManifest(dir);
      const out = join(dir, 'out');
      const cache = ['--cache-dir', join(dir, 'c')];
      expect((await runCli([...cache, '-q', 'build', manifest, '--out', out, '--runtime', 'none'])).code).toBe(0);
      await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('version: 1.0.0', 'version: 1.0.1'));
      const ro = join(dir, 'ro');
      await mkdir(ro);
      // A read-only filesystem in a mount namespace of its own: nothing of it is seen outside this one command.
      const r = spawnSync(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          `mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"`,
          'sh',
          ro,
          process.execPath,
          BIN,
          ...cache,
          'build',
          manifest,
          '--out',
          out,
          '--tar',
          join(ro, 'x.tar'),
          '--runtime',
          'none',
        ],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toContain(`error: cannot write --tar ${join(ro, 'x.tar')}: the filesystem is read-only`);
      expect(r.stderr).toMatch(/^hint: .*nothing was fetched or written/m);
      expect(r.stderr).not.toMatch(/^fetch/m);
      expect(r.status).toBe(5);
      expect(JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')).version).toBe('1.0.0');
      // A device given as --tar is written into, not replaced (our own null device, never the system's).
      const dev = join(dir, 'null');
      expect(spawnSync('mknod', ['-m', '666', dev, 'c', '1', '3']).status).toBe(0);
      const t = await runCli([...cache, 'build', manifest, '--out', out, '--tar', dev, '--runtime', 'none']);
      expect(t.code).toBe(0);
      expect((await lstat(dev)).isCharacterDevice()).toBe(true);
      expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    "lock --out where no folder can be made fails at once with exit 5 (Node's recursive mkdir spins forever there)",
    async () => {
      const dir = await tempDir();
      const { manifest } = await fileManifest(dir);
      const ro = join(dir, 'ro');
      const pm = join(dir, 'proc');
      await mkdir(ro);
      await mkdir(pm);
      // Private mounts at our own temp paths: a read-only tmpfs, and a procfs (where mkdir says ENOENT under a
      // folder that exists). Nothing can be created in either; nothing of them is seen outside the command.
      const run = (mount: string, out: string) =>
        spawnSync('unshare', ['-m', 'sh', '-c', `${mount} && exec "$@"`, 'sh', process.execPath, BIN, 'lock', manifest, '--out', out], {
          encoding: 'utf8',
          timeout: 30_000,
        });
      const r = run(`mount -t tmpfs -o ro tmpfs ${ro}`, join(ro, 'a', 'b', 'm.lock.json'));
      expect(r.stderr).toContain(`cannot write ${join(ro, 'a', 'b', 'm.lock.json')}: the filesystem is read-only`);
      expect(r.stderr).toMatch(/^hint: .*writable filesystem/m);
      expect(r.status).toBe(5);
      const p = run(`mount -t proc proc ${pm}`, join(pm, 'self', 'x', 'm.lock.json'));
      expect(p.error).toBeUndefined(); // not killed by the timeout
      expect(p.status).toBe(5);
      expect(p.stderr).toMatch(/^error: cannot write .*m\.lock\.json: /m);
      noStack(p.stderr);
    },
  );

  it('Ctrl-C while resolving is an interruption (exit 130), not an internal error', async () => {
    const dir = await tempDir();
    // A server that never answers: resolve waits on its size request when Ctrl-C comes.
    const server: Server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const manifest = join(dir, 'm.yaml');
      await writeFile(
        manifest,
        `name: h\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - name: big\n    url: http://127.0.0.1:${port}/big.bin\n    sha256: ${'a'.repeat(64)}\n`,
      );
      const r = await runCli(['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', join(dir, 'out'), '--runtime', 'none'], {
        signalWhen: { pattern: /resolve: file/, signal: 'SIGINT', delayMs: 500 },
      });
      expect(r.stderr).not.toContain('internal error');
      expect(r.stderr).toMatch(/^error: interrupted$/m);
      expect(r.code).toBe(130);
      noStack(r.stderr);
      // No bundle and no lock: nothing was resolved.
      expect((await readdir(dir)).filter((n) => n !== 'cache')).toEqual(['m.yaml']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('Ctrl-C mid-download leaves no bundle and no temp files; the rerun resumes with a Range request', async () => {
    const dir = await tempDir();
    const data = randomBytes(4 << 20);
    const ranges: (string | undefined)[] = [];
    let slow = true;
    const server: Server = createServer((req, res) => {
      ranges.push(req.headers.range);
      const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const end = m && m[2] ? Number(m[2]) + 1 : data.length;
      res.writeHead(m ? 206 : 200, {
        'content-length': end - start,
        ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${data.length}` } : {}),
      });
      if (!slow) {
        res.end(data.subarray(start, end));
        return;
      }
      // Trickle: 256 KiB every 100 ms, so the interrupt lands mid-file.
      let at = start;
      const t = setInterval(() => {
        if (at >= end || res.destroyed) {
          clearInterval(t);
          res.end();
          return;
        }
        res.write(data.subarray(at, Math.min(end, at + (256 << 10))));
        at += 256 << 10;
      }, 100);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const manifest = join(dir, 'm.yaml');
      await writeFile(
        manifest,
        `name: net\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - name: big\n    url: http://127.0.0.1:${port}/big.bin\n    sha256: ${sha256(data)}\n`,
      );
      const cache = join(dir, 'cache');
      const out = join(dir, 'bundles', 'net');
      await mkdir(join(dir, 'bundles'));
      const r = await runCli(['--cache-dir', cache, 'build', manifest, '--out', out], {
        signalWhen: { pattern: /fetching file:big/, signal: 'SIGINT', delayMs: 700 },
      });
      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/^error: interrupted/m);
      expect(r.stderr).toMatch(/resume/);
      noStack(r.stderr);
      expect(await readdir(join(dir, 'bundles'))).toEqual([]);
      const partial = await readdir(join(cache, 'partial'));
      expect(partial).toEqual([`${sha256(data)}.part`]);
      const have = (await stat(join(cache, 'partial', partial[0]!))).size;
      expect(have).toBeGreaterThan(0);
      expect(have).toBeLessThan(data.length);

      slow = false;
      const again = await runCli(['--cache-dir', cache, 'build', manifest, '--out', out]);
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/^resuming file:big from \d/m);
      expect(ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/);
      // Compare digests: a deep toEqual of two 4 MiB buffers takes vitest half a minute.
      expect(sha256(await readFile(join(out, 'blobs/sha256', sha256(data))))).toBe(sha256(data));
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
