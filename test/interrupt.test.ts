import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSplitBundle } from '../src/bundle/media.js';
import { stageDeterministicTar } from '../src/bundle/tar.js';
import { BIN } from './helpers/cli.js';
import { buildIn } from './helpers/build.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';
import { signalChild } from '../src/util/proc.js';

/** A folder with one large file: enough bytes that a tar of it takes many chunks. */
async function bigFolder(dir: string, mib: number): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(join(src, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(src, 'blobs', 'sha256', 'big'), Buffer.alloc(mib << 20, 7));
  await writeFile(join(src, 'bundle.json'), '{}');
  return src;
}

/**
 * A signal that reads as aborted from its `after`-th look on: the writer checks it once per chunk, so this
 * lands the abort mid-stream deterministically (a timer could fire before or after the last chunk).
 */
function abortedAfter(after: number): { signal: AbortSignal; looks: () => number } {
  let n = 0;
  const signal = {
    get aborted() {
      return ++n >= after;
    },
  } as unknown as AbortSignal;
  return { signal, looks: () => n };
}

describe('Ctrl-C while writing the tar or the parts', () => {
  it('the tar writer stops between chunks and removes its temp file', async () => {
    const dir = await tempDir();
    const src = await bigFolder(dir, 48);
    // One look before the first byte, then one per chunk (48 of them): the 10th is mid-stream.
    const { signal, looks } = abortedAfter(10);
    const err = await stageDeterministicTar(src, join(dir, 'x.tar'), 'x', new Date(0), signal).catch((e: unknown) => e);
    expect(looks()).toBe(10);
    expect(err).toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
    expect((await readdir(dir)).sort()).toEqual(['src']);
  });

  it('the parts writer stops between chunks and leaves no folder', async () => {
    const dir = await tempDir();
    const src = await bigFolder(dir, 48);
    // Past the small files (one look each) and 10 chunks of the tar: a few parts are written by then.
    const { signal, looks } = abortedAfter(20);
    const err = await writeSplitBundle(src, join(dir, 'split'), { name: 'x', version: '1', partSize: 4 << 20, mtime: new Date(0), signal }).catch(
      (e: unknown) => e,
    );
    expect(looks()).toBe(20);
    expect(err).toMatchObject({ code: 'INTERRUPTED' });
    expect((await readdir(dir)).sort()).toEqual(['src']);
  });

  it('build: an abort at the tar step keeps the old bundle and leaves nothing beside it', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const out = join(dir, 'bundles', 'x');
    await buildIn(dir, manifest, { out });
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('version: 1.0.0', 'version: 1.0.1'));
    const ctl = new AbortController();
    const err = await buildIn(dir, manifest, {
      out,
      tar: join(dir, 'bundles', 'x.tar'),
      signal: ctl.signal,
      onEvent: (e) => e.type === 'phase' && e.phase === 'tar' && ctl.abort(),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERRUPTED' });
    expect(JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')).version).toBe('1.0.0');
    expect(await readdir(join(dir, 'bundles'))).toEqual(['x']);
  });

  it('build removes the leftovers of a killed build of the same --out and --tar, and says so', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const bundles = join(dir, 'bundles');
    await mkdir(bundles);
    const old = new Date(Date.now() - 86_400_000);
    const leftovers = ['.x.tmp-0123456789ab', '..x.tmp-0123456789ab.tmp-0123456789ab', '.x.tar.tmp-0123456789ab'];
    for (const n of leftovers) {
      if (n.includes('.tar.')) await writeFile(join(bundles, n), 'half a tar');
      else await mkdir(join(bundles, n, 'blobs'), { recursive: true });
      await utimes(join(bundles, n), old, old);
    }
    // Not ours (another name), and ours but newer than this process (a build running now): both kept.
    await mkdir(join(bundles, '.y.tmp-0123456789ab'));
    await utimes(join(bundles, '.y.tmp-0123456789ab'), old, old);
    await mkdir(join(bundles, '.x.tmp-fedcba987654'));
    const r = await buildIn(dir, manifest, { out: join(bundles, 'x'), tar: join(bundles, 'x.tar') });
    expect((await readdir(bundles)).sort()).toEqual(['.x.tmp-fedcba987654', '.y.tmp-0123456789ab', 'x', 'x.tar']);
    const said = r.events.filter((e) => e.type === 'info').map((e) => (e as { message: string }).message);
    expect(said).toHaveLength(1);
    for (const n of leftovers) expect(said[0]).toContain(n);
  });

  it('CLI: Ctrl-C during the tar exits 130 with no "built" line; a second Ctrl-C still leaves no temp files', async () => {
    const dir = await tempDir();
    // 128 MiB of one byte: the tar takes long enough to be interrupted, and hashing it is quick.
    const data = Buffer.alloc(128 << 20, 1);
    await writeFile(join(dir, 'big.bin'), data);
    const manifest = join(dir, 'm.yaml');
    const sha = createHash('sha256').update(data).digest('hex');
    await writeFile(
      manifest,
      `name: x\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - name: big\n    path: big.bin\n    sha256: ${sha}\n`,
    );
    const bundles = join(dir, 'bundles');
    const args = ['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', join(bundles, 'x'), '--tar', join(bundles, 'x.tar'), '--runtime', 'none'];
    for (const times of [1, 2]) {
      const r = await interruptAt(args, /^tar$/m, times);
      expect(r.stderr).toContain('interrupting');
      expect(r.code).toBe(130);
      if (times === 1) expect(r.stderr).toMatch(/^error: interrupted$/m);
      expect(r.stdout).not.toContain('built');
      expect(await readdir(bundles)).toEqual([]);
    }
  });
});

/** Runs the CLI and sends SIGINT `times` times (50 ms apart) once its output matches `pattern`. */
function interruptAt(args: string[], pattern: RegExp, times: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const check = () => {
      if (sent || !pattern.test(stderr)) return;
      sent = true;
      for (let i = 0; i < times; i++) setTimeout(() => signalChild(child, 'SIGINT'), i * 50);
    };
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), check()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
