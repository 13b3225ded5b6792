import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { type TestServer, startServer } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';
import { cliTty, frames, runTty, screen } from './helpers/tty.js';
import { FetchMeter, VerifyMeter } from '../src/cli/progress.js';

// Honest progress (#14): the CLI at a terminal (a real pseudo-terminal through `script`) and on a pipe.

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Three files served over HTTP on 127.0.0.1 and a manifest that pins them (file:big, file:mid, file:small). */
async function served(dir: string): Promise<{ manifest: string; server: TestServer; big: Buffer }> {
  const files = { big: randomBytes(3 << 20), mid: randomBytes(300 << 10), small: randomBytes(5000) };
  const server = await startServer(Object.fromEntries(Object.entries(files).map(([n, d]) => [`/${n}.bin`, d])));
  servers.push(server);
  const manifest = join(dir, 'm.yaml');
  const entries = Object.entries(files).flatMap(([n, d]) => [`  - name: ${n}`, `    url: ${server.url(`/${n}.bin`)}`, `    sha256: ${sha256(d)}`]);
  await writeFile(manifest, ['name: net', 'version: 1.0.0', 'target: {os: ubuntu-24.04, arch: amd64}', 'files:', ...entries, ''].join('\n'));
  return { manifest, server, big: files.big };
}

const FETCH = /^fetch (\d+)\/(\d+) files {2}(\S+ \S+)\/(\S+ \S+) {2}/;

/** The fetch line's frames as numbers: files done and total, bytes done and total (as shown). */
function fetchFrames(transcript: string): { done: number; files: number; got: string; bytes: string }[] {
  return frames(transcript)
    .map((f) => FETCH.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ done: Number(m[1]), files: Number(m[2]), got: m[3]!, bytes: m[4]! }));
}

describe('build progress', () => {
  it('the fetch line counts everything the lock needs, cached blobs done from the start; its last line reads done == total', async () => {
    const dir = await tempDir();
    const { manifest, big } = await served(dir);
    const cache = join(dir, 'cache');
    const build = () => cliTty(['--cache-dir', cache, 'build', manifest, '--out', join(dir, 'out'), '--runtime', 'none']);
    const first = await build();
    expect(first.code, first.transcript).toBe(0);
    const f1 = fetchFrames(first.transcript);
    expect(f1.length).toBeGreaterThan(0);
    expect(f1.every((f) => f.files === 3 && f.bytes === '3.30 MiB')).toBe(true);
    expect(f1.at(-1)).toMatchObject({ done: 3, got: '3.30 MiB' });
    expect(screen(first.transcript)).toContainEqual(expect.stringMatching(/^built .*: 3 artifacts, .*; took \d+\.\d s, fetched 3 file\(s\) \(3\.30 MiB\)$/));

    // One blob gone from the cache: the totals are still the whole build's, two files done before any byte moves.
    await rm(join(cache, 'blobs', 'sha256', sha256(big)));
    const second = await build();
    expect(second.code, second.transcript).toBe(0);
    const f2 = fetchFrames(second.transcript);
    expect(f2[0]).toMatchObject({ done: 2, files: 3, bytes: '3.30 MiB' });
    expect(f2.at(-1)).toMatchObject({ done: 3, files: 3, got: '3.30 MiB' });
    const shown = screen(second.transcript);
    expect(shown).toContainEqual(expect.stringMatching(/^need 3 files \(3\.30 MiB\): 2 in the cache \(.+\), 1 to download \(.+\)$/));
    expect(shown).toContainEqual(expect.stringMatching(/; took \d+\.\d s, fetched 1 file\(s\) \(3\.00 MiB\), 2 from the cache \(304\.9 KiB\)$/));
    // The last fetch line stays on the screen, with the time it took.
    expect(shown).toContainEqual(expect.stringMatching(/^fetch 3\/3 files {2}3\.30 MiB\/3\.30 MiB {2}.*in \d/));
  });

  it('a download cut off is announced as resumed, from the byte it goes on from; a pipe gets plain lines, no carriage return', async () => {
    const dir = await tempDir();
    const { manifest, server } = await served(dir);
    // The lock asks for one byte first (bytes=0-0: the size); the download is the second request.
    server.script('/big.bin', [{}, { resetAfter: 1 << 20 }]);
    const tty = await cliTty(['--cache-dir', join(dir, 'c1'), 'build', manifest, '--out', join(dir, 'o1'), '--runtime', 'none']);
    expect(tty.code, tty.transcript).toBe(0);
    const resumed = screen(tty.transcript).find((l) => l.startsWith('resuming '));
    expect(resumed).toMatch(/^resuming file:big from (\d+(\.\d+)? KiB|1\.00 MiB) of 3\.00 MiB$/);
    expect(server.requestsFor('/big.bin').at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/);
    // Done == total although the retry re-fetched from a sector boundary below what had come.
    expect(fetchFrames(tty.transcript).at(-1)).toMatchObject({ done: 3, files: 3, got: '3.30 MiB', bytes: '3.30 MiB' });

    // Locked now: the download is the first request.
    server.script('/big.bin', [{ resetAfter: 1 << 20 }]);
    const pipe = await runCli(['--cache-dir', join(dir, 'c2'), 'build', manifest, '--out', join(dir, 'o2'), '--runtime', 'none']);
    expect(pipe.code, pipe.stderr).toBe(0);
    expect(pipe.stderr).not.toContain('\r');
    expect(pipe.stderr).not.toContain('\x1b');
    expect(pipe.stderr).toMatch(/^need 3 files \(3\.30 MiB\): 0 in the cache \(0 B\), 3 to download \(3\.30 MiB\)$/m);
    expect(pipe.stderr).toMatch(/^resuming file:big from \S+ \S+ of 3\.00 MiB$/m);
    expect(pipe.stdout).toMatch(/, fetched 3 file\(s\) \(3\.30 MiB, 1 resumed\)/);

    const json = await runCli(['--json', '--cache-dir', join(dir, 'c3'), 'build', manifest, '--out', join(dir, 'o3'), '--runtime', 'none']);
    const records = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(records).toContainEqual(expect.objectContaining({ type: 'fetch:plan', files: 3, cachedFiles: 0 }));
    expect(records.at(-1)).toMatchObject({ type: 'result', fetch: { files: 3, downloadedFiles: 3, cachedFiles: 0 } });
  });
});

describe('verify progress', () => {
  it('a terminal gets a progress line that ends at done == total; a pipe, --json and -q get nothing extra', async () => {
    const dir = await tempDir();
    const { manifest } = await served(dir);
    const out = join(dir, 'out');
    expect((await runCli(['-q', '--cache-dir', join(dir, 'c'), 'build', manifest, '--out', out, '--runtime', 'host'])).code).toBe(0);
    const VERIFY = /^verify (\d+)\/(\d+) files {2}(\S+ \S+)\/(\S+ \S+) {2}/;
    const check = (transcript: string) => {
      const f = frames(transcript)
        .map((l) => VERIFY.exec(l))
        .filter((m) => m !== null);
      expect(f.length, transcript).toBeGreaterThan(0);
      const last = f.at(-1)!;
      expect(last[1]).toBe(last[2]);
      expect(last[3]).toBe(last[4]);
      // The line is gone once the result is printed: the screen shows the OK line only.
      expect(screen(transcript).filter((l) => VERIFY.test(l))).toEqual([]);
      expect(screen(transcript)).toContainEqual(expect.stringMatching(/^OK net 1\.0\.0: \d+ files/));
    };
    const tty = await cliTty(['verify', out]);
    expect(tty.code).toBe(0);
    check(tty.transcript);
    // The carried runtime's ./verify (node from the bundle, the same code) on a terminal.
    const carried = await runTty(['sh', join(out, 'verify')]);
    expect(carried.code, carried.transcript).toBe(0);
    check(carried.transcript);

    const pipe = await runCli(['verify', out]);
    expect(pipe.stderr).toBe('');
    expect(pipe.stdout).toMatch(/^OK net 1\.0\.0: \d+ files[^\r]*\n$/);
    const json = await runCli(['--json', 'verify', out]);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'result', ok: true });
    const quiet = await cliTty(['-q', 'verify', out]);
    expect(quiet.code).toBe(0);
    expect(quiet.transcript).toBe('');
  });
});

describe('smoke at a terminal', () => {
  it('names each check once: the running one in place, then the table', async () => {
    const dir = await tempDir();
    const tty = await cliTty(['smoke', '--only', 'gpu'], { cwd: dir });
    const ids = ['gpu.inventory', 'python.env', 'gpu.matmul', 'gpu.thermal'];
    const shown = screen(tty.transcript);
    for (const id of ids) {
      // Once, as the table's row (a skipped check's reason may name the check it needs: that is not a listing).
      const rows = shown.filter((l) => new RegExp(`(^|\\s)${id.replace('.', '\\.')}(\\s|:|$)`).test(l.replace(/needs \S+/, '')));
      expect({ id, rows }).toEqual({ id, rows: [expect.stringMatching(new RegExp(`^(PASS|FAIL|SKIP|ERROR) +${id.replace('.', '\\.')} `))] });
    }
    // The check that ran was on the live line while it ran.
    expect(frames(tty.transcript)).toContainEqual(expect.stringMatching(/^check 1\/\d+ gpu\.inventory: /));

    const pipe = await runCli(['smoke', '--only', 'gpu'], { cwd: dir });
    expect(pipe.stderr).not.toContain('\r');
    expect(pipe.stderr).toMatch(/^check gpu\.inventory: /m);
  });
});

describe('the meters behind the lines', () => {
  it('a retry that starts over or resumes below what had come takes those bytes back: done never passes total', () => {
    const m = new FetchMeter();
    m.plan({ type: 'fetch:plan', files: 2, bytes: 3000, cachedFiles: 1, cachedBytes: 1000 });
    expect([m.doneFiles, m.doneBytes]).toEqual([1, 1000]);
    m.start({ type: 'download:start', id: 'a', size: 2000, resumeFrom: 0 });
    m.progress({ type: 'download:progress', id: 'a', bytes: 1500 });
    // The server ignored Range: the retry starts from 0 again; then from a sector below what had come.
    m.start({ type: 'download:start', id: 'a', size: 2000, resumeFrom: 0 });
    expect(m.doneBytes).toBe(1000);
    m.progress({ type: 'download:progress', id: 'a', bytes: 1200 });
    m.start({ type: 'download:start', id: 'a', size: 2000, resumeFrom: 1024 });
    expect(m.doneBytes).toBe(2024);
    m.progress({ type: 'download:progress', id: 'a', bytes: 976 });
    m.done({ type: 'download:done', id: 'a', size: 2000, cached: false });
    expect([m.doneFiles, m.files, m.doneBytes, m.bytes, m.complete]).toEqual([2, 2, 3000, 3000, true]);
    expect(m.line('fetch')).toMatch(/^fetch 2\/2 files {2}2\.93 KiB\/2\.93 KiB {2}.* in \d/);
  });

  it("verify's bytes so far of a big file are replaced, not added, by its final count", () => {
    const m = new VerifyMeter();
    m.plan({ type: 'verify:plan', files: 2, bytes: 300 });
    m.progress({ type: 'verify:progress', path: 'big', bytes: 100 });
    m.progress({ type: 'verify:progress', path: 'big', bytes: 200 });
    expect([m.doneFiles, m.doneBytes]).toEqual([0, 200]);
    m.file({ type: 'verify:file', path: 'big', ok: true, bytes: 250 });
    m.file({ type: 'verify:file', path: 'small', ok: true, bytes: 50 });
    expect([m.doneFiles, m.doneBytes, m.complete]).toEqual([2, 300, true]);
  });
});
