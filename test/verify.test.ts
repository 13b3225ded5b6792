import { chmod, mkdir, readFile, rm, writeFile, appendFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { fileManifest, flipByte } from './helpers/fixtures.js';
import { buildIn } from './helpers/build.js';
import { tempDir } from './helpers/tmp.js';
import { runCli } from './helpers/cli.js';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';

let pristine: string;
let hexes: string[];

beforeAll(async () => {
  // One bundle built once; each test tampers with its own copy.
  const dir = await mkdtemp(join(tmpdir(), 'vb-verify-'));
  const { manifest, files } = await fileManifest(dir, { sizes: [100, 5000, 300_000] });
  hexes = files.map((f) => f.sha256);
  pristine = (await buildIn(dir, manifest, { tar: join(dir, 'b.tar') })).dir;
  return () => rm(dir, { recursive: true, force: true });
});

async function copy(): Promise<string> {
  const d = join(await tempDir(), 'bundle');
  await cp(pristine, d, { recursive: true });
  // Copies of store blobs are read-only; tests need to write.
  for (const h of hexes) await chmod(join(d, 'blobs/sha256', h), 0o644);
  return d;
}

describe('verify', () => {
  it('passes an untouched bundle, folder and tar, hashing every listed file', async () => {
    const r = await verifyBundle(pristine);
    expect(r).toMatchObject({ ok: true, name: 'test', version: '1.0.0', files: 5, problems: [] });
    expect(r.bytes).toBeGreaterThan(305_000);
    expect(r.steps.map((s) => s.name)).toEqual(['open', 'read-sums', 'compare-listing', 'read-index', 'index-vs-blobs', 'hash']);
    const t = await verifyBundle(join(pristine, '..', 'b.tar'));
    expect(t).toMatchObject({ ok: true, files: 5, bytes: r.bytes });
  });

  it('names a flipped byte in a blob', async () => {
    const d = await copy();
    await flipByte(join(d, 'blobs/sha256', hexes[2]!), 123_456);
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'DIGEST_MISMATCH', path: `blobs/sha256/${hexes[2]}`, expected: hexes[2] })]);
  });

  it('names a removed file, both as missing and as a missing blob', async () => {
    const d = await copy();
    await rm(join(d, 'blobs/sha256', hexes[0]!));
    const r = await verifyBundle(d);
    expect(r.problems.map((p) => p.code).sort()).toEqual(['MISSING_BLOB', 'MISSING_FILE']);
    expect(r.problems.every((p) => p.path === `blobs/sha256/${hexes[0]}`)).toBe(true);
  });

  it('names an added file, an added blob and a symlink', async () => {
    const d = await copy();
    await writeFile(join(d, 'README.txt'), 'extra');
    await writeFile(join(d, 'blobs/sha256', 'f'.repeat(64)), 'x');
    await symlink('/etc/passwd', join(d, 'link'));
    const r = await verifyBundle(d);
    const byPath = Object.fromEntries(r.problems.map((p) => [p.path, p.code]));
    expect(byPath['README.txt']).toBe('EXTRA_FILE');
    expect(byPath[`blobs/sha256/${'f'.repeat(64)}`]).toBeDefined();
    expect(byPath.link).toBe('NOT_A_FILE');
  });

  it('detects an edited SHA256SUMS', async () => {
    const d = await copy();
    const sums = await readFile(join(d, 'SHA256SUMS'), 'utf8');
    // Re-point a line at other content: the file no longer matches, and the index disagrees with it.
    await writeFile(join(d, 'SHA256SUMS'), sums.replace(`${hexes[1]}  blobs`, `${'0'.repeat(64)}  blobs`));
    const r = await verifyBundle(d);
    expect(r.problems.map((p) => p.code).sort()).toEqual(['DIGEST_MISMATCH', 'DIGEST_MISMATCH']);
    // A line that is not a checksum line at all is named by its line number.
    await writeFile(join(d, 'SHA256SUMS'), `${sums}garbage\n`);
    await expect(verifyBundle(d)).rejects.toMatchObject({ code: 'BAD_SUMS', message: expect.stringContaining('SHA256SUMS:6') });
    // Dropping a line makes that file unlisted.
    await writeFile(
      join(d, 'SHA256SUMS'),
      sums
        .split('\n')
        .filter((l) => !l.endsWith('sbom.cdx.json'))
        .join('\n'),
    );
    expect((await verifyBundle(d)).problems).toEqual([expect.objectContaining({ code: 'UNLISTED_FILE', path: 'sbom.cdx.json' })]);
  });

  it('detects an edited bundle.json', async () => {
    const d = await copy();
    await appendFile(join(d, 'bundle.json'), ' ');
    const r = await verifyBundle(d);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'DIGEST_MISMATCH', path: 'bundle.json' })]);
  });

  it('the text output puts the cause first and ends with what to do; an unreadable bundle.json is named by its folder', async () => {
    const d = await copy();
    await writeFile(join(d, 'bundle.json'), '{');
    const r = await runCli(['verify', d]);
    expect(r.code).toBe(4);
    // The path as the CLI shows it: relative to the working folder when that is shorter.
    expect(r.stdout).toMatch(new RegExp(`^FAILED: ${(await verifyBundle(d)).problems.length} problem\\(s\\) in \\S*vb-test-\\w+/bundle\\n$`));
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^(BAD_INDEX|DIGEST_MISMATCH): bundle\.json: /);
    expect(lines.at(-1)).toBe(
      'hint: do not install from this copy: copy the files or parts named above again from the release medium (or the whole bundle), then run verify again',
    );
  });

  it('checks bundle.json against the blobs even when SHA256SUMS was rewritten to match', async () => {
    const d = await copy();
    const idx = JSON.parse(await readFile(join(d, 'bundle.json'), 'utf8'));
    idx.artifacts[0].size += 1;
    const text = `${JSON.stringify(idx, null, 2)}\n`;
    await writeFile(join(d, 'bundle.json'), text);
    const { createHash } = await import('node:crypto');
    const sums = await readFile(join(d, 'SHA256SUMS'), 'utf8');
    const line = sums.split('\n').find((l) => l.endsWith('  bundle.json'))!;
    await writeFile(join(d, 'SHA256SUMS'), sums.replace(line, `${createHash('sha256').update(text).digest('hex')}  bundle.json`));
    const r = await verifyBundle(d);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'SIZE_MISMATCH', path: `blobs/sha256/${hexes[0]}` })]);
  });

  it('verifies a tar without extracting it and names a corrupt member', async () => {
    const dir = await tempDir();
    const tarCopy = join(dir, 'b.tar');
    await cp(join(pristine, '..', 'b.tar'), tarCopy);
    const buf = await readFile(tarCopy);
    // Flip a byte inside the largest blob's data (find it by its content in the tar).
    const blob = await readFile(join(pristine, 'blobs/sha256', hexes[2]!));
    const at = buf.indexOf(blob.subarray(0, 64));
    expect(at).toBeGreaterThan(0);
    await flipByte(tarCopy, at + 1000);
    const r = await verifyBundle(tarCopy);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'DIGEST_MISMATCH', path: `blobs/sha256/${hexes[2]}` })]);
  });

  it('says clearly when the path is not a bundle', async () => {
    const d = await tempDir();
    await expect(verifyBundle(join(d, 'nope'))).rejects.toMatchObject({ code: 'NOT_A_BUNDLE' });
    await expect(verifyBundle(d)).rejects.toMatchObject({ code: 'NOT_A_BUNDLE', exitCode: 64, message: expect.stringContaining('not a vault-bundle bundle') });
    await writeFile(join(d, 'x.tar'), 'not a tar at all'.repeat(100));
    await expect(verifyBundle(join(d, 'x.tar'))).rejects.toMatchObject({ code: 'NOT_A_BUNDLE' });
  });
});

describe('verify: hostile input', () => {
  /** A one-member ustar file whose size field says `size` (written as given), with a valid checksum. */
  function tarWithSize(size: string): Buffer {
    const h = Buffer.alloc(512);
    h.write('x/bundle.json', 0);
    h.write('0000644\0', 100);
    h.write(`${size}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('0', 156);
    h.write('ustar\u000000', 257);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return Buffer.concat([h, Buffer.alloc(1024)]);
  }

  it('a tar member with a negative or oversized size is refused at once, not looped over', async () => {
    const dir = await tempDir();
    for (const size of ['-0000001000', '-1000000000', '77777777777']) {
      const file = join(dir, `t${size}.tar`);
      await writeFile(file, tarWithSize(size));
      await expect(verifyBundle(file)).rejects.toMatchObject({ code: 'NOT_A_BUNDLE', message: expect.stringMatching(/bad member size/) });
    }
  });

  it('a directory where SHA256SUMS lists a file is named, and an unreadable bundle.json is an integrity error', async () => {
    const d = await copy();
    await rm(join(d, 'sbom.cdx.json'));
    await mkdir(join(d, 'sbom.cdx.json'));
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual(expect.objectContaining({ code: 'NOT_A_FILE', path: 'sbom.cdx.json' }));
    await rm(join(d, 'bundle.json'));
    await mkdir(join(d, 'bundle.json'));
    const cli = await runCli(['inspect', d]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/bundle\.json is a dir, not a file/);
  });
});

describe('files left in a bundle folder', () => {
  it('ignores macOS/Windows metadata with a warning, and never reads it', async () => {
    const d = await copy();
    const junk = [
      '.DS_Store',
      `._bundle.json`,
      `blobs/sha256/._${hexes[0]}`,
      '.Trashes/501/x',
      '.Spotlight-V100/Store-V2/y',
      '.fseventsd/z',
      'System Volume Information/IndexerVolumeGuid',
      '$RECYCLE.BIN/desktop.ini',
    ];
    for (const j of junk) {
      await mkdir(join(d, j, '..'), { recursive: true });
      await writeFile(join(d, j), 'junk');
    }
    const r = await verifyBundle(d);
    expect(r).toMatchObject({ ok: true, problems: [] });
    expect([...r.ignored!].sort()).toEqual([...junk].sort());
    const cli = await runCli(['verify', d]);
    expect(cli.code).toBe(0);
    expect(cli.stderr).toMatch(/^warning: ignored 8 macOS\/Windows metadata file\(s\) \(.+\): not part of the bundle, never read$/m);
    // Listed in SHA256SUMS, such a name is a bundle file like any other (hashed; here: damaged).
    await appendFile(join(d, 'SHA256SUMS'), `${'0'.repeat(64)}  .DS_Store\n`);
    expect((await verifyBundle(d)).problems).toEqual([expect.objectContaining({ code: 'DIGEST_MISMATCH', path: '.DS_Store' })]);
  });

  it('other added files are EXTRA_FILE ("move them out"), not damage; install refuses them with that advice', async () => {
    const d = await copy();
    await mkdir(join(d, 'smoke-results'));
    await writeFile(join(d, 'smoke-results', 'results.json'), '{}');
    await writeFile(join(d, 'box.json'), '{}');
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.code, p.path])).toEqual([
      ['EXTRA_FILE', 'box.json'],
      ['EXTRA_FILE', 'smoke-results/results.json'],
    ]);
    const cli = await runCli(['verify', d]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toBe(
      "EXTRA_FILE: 2 files not in the bundle (listed below): move them out of the bundle folder; the bundle's own files are intact\n  box.json\n  smoke-results/results.json\n",
    );
    expect(cli.stdout).toMatch(/^FAILED test 1\.0\.0: 2 file\(s\) not in the bundle left in .+; the bundle's own files are intact$/m);
    const { installBundle } = await import('../src/install/install.js');
    const { execFile } = await import('../src/util/exec.js');
    const inst = installBundle({
      bundle: d,
      dryRun: true,
      ignoreTarget: true,
      stateDir: join(d, '..', 'state'),
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    });
    await expect(inst).rejects.toMatchObject({
      code: 'EXTRA_FILES',
      exitCode: 4,
      message: expect.stringContaining(
        "2 files not in the bundle (box.json, smoke-results/results.json): move them out of the bundle folder; the bundle's own files are intact",
      ),
      hint: expect.not.stringContaining('copy the bundle again'),
    });
    // With damage as well, the bundle is not called intact, and the damage comes first.
    await flipByte(join(d, 'blobs/sha256', hexes[1]!), 10);
    const both = await runCli(['verify', d]);
    expect(both.stderr).toMatch(/^DIGEST_MISMATCH: [\s\S]*EXTRA_FILE: 2 files not in the bundle \(listed below\): move them out of the bundle folder\n/);
    expect(both.stdout).toMatch(/^FAILED test 1\.0\.0: 3 problem\(s\)/m);
  });

  it('probe and smoke run from inside a bundle folder write beside it, and warn about a path given inside it', async () => {
    const d = await copy();
    const probe = await runCli(['probe'], { cwd: d });
    expect(probe.code).toBe(0);
    expect(probe.stdout).toContain('wrote ../box.json');
    await expect(readFile(join(d, '..', 'box.json'), 'utf8')).resolves.toContain('vault-bundle-probe/v1');
    const smoke = await runCli(['smoke', '--only', 'gpu.inventory', '--save-baseline', 'base.json'], { cwd: join(d, 'blobs') });
    expect(smoke.stdout).toContain(`results in ${join(d, '..', 'smoke-results')}`);
    expect(smoke.stderr).toContain(`warning: the baseline base.json is inside the bundle folder ${d}`);
    await expect(readFile(join(d, '..', 'smoke-results', 'results.json'), 'utf8')).resolves.toContain('gpu.inventory');
    expect((await verifyBundle(d)).ok).toBe(true);
    // Outside any bundle: here, as before.
    const elsewhere = join(d, '..', 'elsewhere');
    await mkdir(elsewhere);
    expect((await runCli(['probe'], { cwd: elsewhere })).stdout).toContain('wrote box.json');
  });
});
