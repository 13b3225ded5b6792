import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, lstat, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTS } from '../src/bundle/layout.js';
import type { PartsManifest } from '../src/bundle/parts.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { installBundle } from '../src/install/install.js';
import { execFile } from '../src/util/exec.js';
import { walk } from '../src/util/fs.js';
import { checkSpace, sameFilesystem } from '../src/util/space.js';
import { buildIn } from './helpers/build.js';
import { flipByte } from './helpers/fixtures.js';
import { runCli } from './helpers/cli.js';

let dir: string;
let made = 0;
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Files with install destinations under `dest`; `names` picks which of the prepared payloads go in. */
async function manifest(version: string, payloads: Record<string, Buffer>, dest: string): Promise<string> {
  const lines = ['name: media', `version: ${version}`, 'target:', '  os: ubuntu-24.04', '  arch: amd64', 'files:'];
  for (const [name, data] of Object.entries(payloads)) {
    const path = join(dir, `${name}-${sha(data).slice(0, 8)}.bin`);
    await writeFile(path, data);
    lines.push(`  - name: ${name}`, `    path: ${path}`, `    sha256: ${sha(data)}`, '    install:', `      dest: ${join(dest, name)}`);
  }
  const m = join(dir, `m-${version}-${++made}.yaml`);
  await writeFile(m, `${lines.join('\n')}\n`);
  return m;
}

const payload = {
  small: randomBytes(100),
  mid: randomBytes(150_000),
  big: randomBytes(300_000),
};
let split: string;
let whole: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vb-media-'));
  const m = await manifest('1.0.0', payload, join(dir, 'box'));
  whole = (await buildIn(dir, m, { out: join(dir, 'whole') })).dir;
  // 64 KiB parts: the 300 kB blob spans five of them.
  split = (await buildIn(dir, m, { out: join(dir, 'split'), media: 'fat32', partSize: 64 * 1024 })).dir;
});

afterAll(() => rm(dir, { recursive: true, force: true }));

async function copyOf(src: string): Promise<string> {
  const d = await mkdtemp(join(dir, 'copy-'));
  await cp(src, d, { recursive: true });
  return d;
}

describe('build --media fat32', () => {
  it('writes the blobs as parts no larger than the part size, the small files as they are, and no symlink', async () => {
    const pm = JSON.parse(await readFile(join(split, PARTS), 'utf8'));
    expect(pm.parts.length).toBeGreaterThan(5);
    for (const e of await walk(split)) {
      expect(e.kind === 'file' || e.kind === 'dir').toBe(true);
      if (e.kind === 'file' && e.path.startsWith('blobs.tar.')) expect((await stat(join(split, e.path))).size).toBeLessThanOrEqual(64 * 1024);
    }
    expect(await readdir(split)).toEqual(expect.arrayContaining(['bundle.json', 'SHA256SUMS', 'sbom.cdx.json', PARTS]));
    expect((await readdir(split)).includes('blobs')).toBe(false);
    // parts.json agrees with the real tools: the joined parts hash to `whole`, and tar lists the blobs.
    const joined = execFileSync('sh', ['-c', 'cat blobs.tar.* | sha256sum'], { cwd: split, encoding: 'utf8' });
    expect(joined.split(' ')[0]).toBe(pm.whole.sha256);
    const listed = execFileSync('sh', ['-c', 'cat blobs.tar.* | tar -t'], { cwd: split, encoding: 'utf8' }).trim().split('\n');
    expect(listed.sort()).toEqual(
      Object.values(payload)
        .map((b) => `blobs/sha256/${sha(b)}`)
        .sort(),
    );
    const each = execFileSync(
      'sha256sum',
      pm.parts.map((p: { file: string }) => p.file),
      { cwd: split, encoding: 'utf8' },
    );
    expect(
      each
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
    ).toEqual(pm.parts.map((p: { sha256: string }) => p.sha256));
  });

  it('verify reads the parts in place: the same files and bytes as the unsplit bundle, and parts.json', async () => {
    const a = await verifyBundle(whole);
    const b = await verifyBundle(split);
    const pj = await readFile(join(split, PARTS));
    expect(b).toMatchObject({ ok: true, files: a.files + 1, bytes: a.bytes + pj.length, parts: { count: expect.any(Number) } });
    // parts.json is listed in SHA256SUMS (and so signed): its part sizes and hashes are covered.
    expect(await readFile(join(split, 'SHA256SUMS'), 'utf8')).toContain(`${sha(pj)}  parts.json\n`);
    const shown = await runCli(['inspect', split]);
    expect(shown.stdout).toMatch(/split for FAT32: \d+ part\(s\)/);
  });

  it('names a missing part before reading anything', async () => {
    const d = await copyOf(split);
    await rm(join(d, 'blobs.tar.0003'));
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    expect(r.bytes).toBe(0);
    expect(r.problems).toEqual([expect.objectContaining({ code: 'PART_MISSING', path: 'blobs.tar.0003' })]);
    const cli = await runCli(['verify', d]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toContain('blobs.tar.0003 (part 3 of');
  });

  it('names the damaged part when a blob inside it does not match', async () => {
    const d = await copyOf(split);
    await flipByte(join(d, 'blobs.tar.0004'), 1000);
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    const codes = r.problems.map((p) => [p.code, p.path]);
    expect(codes).toContainEqual(['PART_DAMAGED', 'blobs.tar.0004']);
    expect(codes.filter(([c]) => c === 'PART_DAMAGED')).toHaveLength(1);
    expect(codes.some(([c, p]) => c === 'DIGEST_MISMATCH' && p!.startsWith('blobs/sha256/'))).toBe(true);
  });

  it('install streams the blobs out of the parts (and out of a tar) into place, and a rerun changes nothing', async () => {
    for (const [form, opts] of [
      ['split', { media: 'fat32' as const, partSize: 64 * 1024 }],
      ['tar', { media: 'tar' as const }],
    ] as const) {
      const box = join(dir, `box-${form}`);
      const m = await manifest(`1.0.1-${form}`, payload, box);
      const built = await buildIn(dir, m, { out: join(dir, `b-${form}`), ...opts });
      const bundle = form === 'tar' ? `${built.dir}.tar` : built.dir;
      expect((await lstat(bundle)).isFile()).toBe(form === 'tar');
      const run = () =>
        installBundle({
          bundle,
          dryRun: false,
          stateDir: join(dir, `state-${form}`),
          ignoreTarget: true,
          exec: execFile,
          report: () => {},
          signal: new AbortController().signal,
        });
      const first = await run();
      expect(first.reports[0]!.changed).toHaveLength(3);
      for (const [name, data] of Object.entries(payload)) expect(sha(await readFile(join(box, name)))).toBe(sha(data));
      const again = await run();
      expect(again.reports[0]!.changed).toEqual([]);
      expect(first.space?.length).toBeGreaterThan(0);
    }
  });
});

describe('split bundles: parts.json is covered, and nothing but the tar is read from the parts', () => {
  /** parts.json edited as someone would, with (or without) its SHA256SUMS line updated to match. */
  async function editParts(d: string, edit: (pm: PartsManifest) => void, relist: boolean): Promise<void> {
    const pm = JSON.parse(await readFile(join(d, PARTS), 'utf8')) as PartsManifest;
    edit(pm);
    const text = `${JSON.stringify(pm, null, 2)}\n`;
    await writeFile(join(d, PARTS), text);
    if (relist) {
      const sums = await readFile(join(d, 'SHA256SUMS'), 'utf8');
      await writeFile(join(d, 'SHA256SUMS'), sums.replace(/^[0-9a-f]{64} {2}parts\.json$/m, `${sha(text)}  parts.json`));
    }
  }
  const codes = (r: { problems: { code: string; path: string }[] }) => r.problems.map((p) => `${p.code} ${p.path}`).sort();

  it('parts appended after the end of the tar are refused, even when parts.json and SHA256SUMS were edited to match', async () => {
    const d = await copyOf(split);
    const pm = JSON.parse(await readFile(join(d, PARTS), 'utf8')) as PartsManifest;
    const last = pm.parts.at(-1)!;
    const n = pm.parts.length;
    // Fill the last part up to the part size with anything after the tar's end, then add a part of anything.
    const filled = Buffer.concat([await readFile(join(d, last.file)), randomBytes(pm.partSize - last.size)]);
    await writeFile(join(d, last.file), filled);
    const added = randomBytes(5000);
    const name = `blobs.tar.${String(n + 1).padStart(4, '0')}`;
    await writeFile(join(d, name), added);
    await editParts(
      d,
      (m) => {
        m.parts[n - 1] = { ...last, size: filled.length, sha256: sha(filled) };
        m.parts.push({ file: name, size: added.length, sha256: sha(added) });
        m.whole.size += filled.length - last.size + added.length;
      },
      true,
    );
    const r = await verifyBundle(d);
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual([`PART_EXTRA ${last.file}`, `PART_EXTRA ${name}`]);
    expect(r.problems.find((p) => p.path === name)!.message).toContain(`${name} (part ${n + 1} of ${n + 1}) lies wholly after the end of the blob archive`);
    // Zero padding to a tar record is an archive's own: the untouched split has none, and passes.
    expect((await verifyBundle(split)).ok).toBe(true);
  });

  it('an edited parts.json fails its SHA256SUMS line; a consistent edit of name or version is named; a renamed part is refused', async () => {
    const d = await copyOf(split);
    await editParts(d, (m) => (m.parts[0]!.sha256 = 'a'.repeat(64)), false);
    expect(codes(await verifyBundle(d))).toEqual(['DIGEST_MISMATCH parts.json']);
    const e = await copyOf(split);
    await editParts(e, (m) => Object.assign(m, { name: 'other', version: '9.9.9' }), true);
    const r = await verifyBundle(e);
    expect(codes(r)).toEqual(['BAD_PARTS parts.json']);
    expect(r.problems[0]!.message).toBe('parts.json is for other 9.9.9, bundle.json for media 1.0.0: parts of another bundle');
    const f = await copyOf(split);
    await editParts(f, (m) => (m.parts[1]!.file = 'blobs.tar.0009'), true);
    await expect(verifyBundle(f)).rejects.toMatchObject({
      code: 'BAD_PARTS',
      message: expect.stringContaining('parts[1] is blobs.tar.0009, expected blobs.tar.0002'),
    });
    // A part file that parts.json does not list is named as such (never read), not as a file left by someone.
    const g = await copyOf(split);
    await writeFile(join(g, 'blobs.tar.0099'), 'x');
    const stray = await verifyBundle(g);
    expect(stray.problems).toEqual([
      expect.objectContaining({ code: 'UNLISTED_FILE', path: 'blobs.tar.0099', message: expect.stringContaining('a part that parts.json does not list') }),
    ]);
  });

  it('a split bundle without parts.json says to copy it again, not that its parts are unlisted and its blobs missing', async () => {
    const d = await copyOf(split);
    await rm(join(d, PARTS));
    await expect(verifyBundle(d)).rejects.toMatchObject({ code: 'BAD_PARTS', exitCode: 4 });
    const cli = await runCli(['verify', d]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/^error: .*: parts\.json missing: copy it again/m);
    expect(cli.stderr).toMatch(/^hint: copy parts\.json from the release medium/m);
    expect(cli.stderr).not.toMatch(/UNLISTED|MISSING_BLOB/);
  });
});

describe('delta bundles (build --base)', () => {
  let v1: string;
  let v2: string;
  const changed = { ...payload, big: randomBytes(300_000), extra: randomBytes(20_000) };

  beforeAll(async () => {
    v1 = (await buildIn(dir, await manifest('1.0.0', payload, join(dir, 'dbox')), { out: join(dir, 'v1') })).dir;
    const r = await buildIn(dir, await manifest('2.0.0', changed, join(dir, 'dbox')), { out: join(dir, 'v2'), base: v1 });
    v2 = r.dir;
    expect(r.base).toEqual({ name: 'media', version: '1.0.0', blobs: 2 });
  });

  it('holds only the blobs the base lacks, and names its base', async () => {
    const blobs = (await readdir(join(v2, 'blobs/sha256'))).sort();
    expect(blobs).toEqual([sha(changed.big), sha(changed.extra)].sort());
    const idx = JSON.parse(await readFile(join(v2, 'bundle.json'), 'utf8'));
    expect(idx.artifacts).toHaveLength(4);
    expect(idx.base).toMatchObject({ name: 'media', version: '1.0.0', blobs: [`sha256:${sha(payload.mid)}`, `sha256:${sha(payload.small)}`].sort() });
    expect(idx.base.index).toBe(`sha256:${sha(await readFile(join(v1, 'bundle.json')))}`);
  });

  it('verify says exactly which blobs must come from the base, checks them there, and refuses another base', async () => {
    const alone = await verifyBundle(v2);
    expect(alone.ok).toBe(false);
    expect(alone.problems.map((p) => [p.code, p.path]).sort()).toEqual(
      [sha(payload.mid), sha(payload.small)].map((h) => ['BASE_REQUIRED', `blobs/sha256/${h}`]).sort(),
    );
    const withBase = await verifyBundle(v2, { base: v1 });
    expect(withBase).toMatchObject({ ok: true, base: { name: 'media', version: '1.0.0', blobs: 2, checkedIn: v1 } });
    const wrong = await verifyBundle(v2, { base: whole });
    expect(wrong.problems.map((p) => p.code)).toEqual(['BASE_MISMATCH']);
    const cli = await runCli(['verify', v2]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toContain('give --base');
    expect((await runCli(['inspect', v2])).stdout).toContain('a delta over media 1.0.0: 2 blob(s) come from that base bundle');
  });

  it('installs over its base: from --base, or from where the journal says the base was installed from', async () => {
    const state = join(dir, 'dstate');
    const run = (bundle: string, base?: string) =>
      installBundle({
        bundle,
        dryRun: false,
        stateDir: state,
        ...(base ? { base } : {}),
        ignoreTarget: true,
        exec: execFile,
        report: () => {},
        signal: new AbortController().signal,
      });
    await expect(run(v2)).rejects.toMatchObject({ code: 'BASE_REQUIRED' });
    await run(v1);
    const r = await run(v2); // the journal locates v1
    expect(r.reports[0]!.changed.sort()).toEqual([join(dir, 'dbox', 'big'), join(dir, 'dbox', 'extra')]);
    for (const [name, data] of Object.entries(changed)) expect(sha(await readFile(join(dir, 'dbox', name)))).toBe(sha(data));
  });

  it('a FAT32 delta whose blobs all come from its base holds an empty blob tar, and verifies with its base', async () => {
    const same = await buildIn(dir, await manifest('2.0.1', payload, join(dir, 'dbox')), {
      out: join(dir, 'v2-same'),
      base: v1,
      media: 'fat32',
      partSize: 1 << 20,
    });
    expect(same.base).toMatchObject({ blobs: Object.keys(payload).length });
    const parts = JSON.parse(await readFile(join(same.dir, 'parts.json'), 'utf8'));
    expect(parts.whole.size).toBe(1024);
    expect(await verifyBundle(same.dir, { base: v1 })).toMatchObject({ ok: true });
  });

  it('refuses a base of another bundle, or a base that is itself a delta', async () => {
    const other = join(dir, 'other.yaml');
    await writeFile(other, (await readFile(await manifest('3.0.0', payload, join(dir, 'x')), 'utf8')).replace('name: media', 'name: other'));
    const cli = await runCli(['--cache-dir', join(dir, 'cache'), 'build', other, '--out', join(dir, 'o3'), '--base', v1, '--runtime', 'none']);
    expect(cli.code).toBe(64);
    expect(cli.stderr).toContain('is bundle "media"');
    const chain = await runCli([
      '--cache-dir',
      join(dir, 'cache'),
      'build',
      await manifest('4.0.0', payload, join(dir, 'y')),
      '--out',
      join(dir, 'o4'),
      '--base',
      v2,
      '--runtime',
      'none',
    ]);
    expect(chain.code).toBe(64);
    expect(chain.stderr).toContain('itself a delta');
  });
});

describe('free space', () => {
  it('tells whether two paths (not yet made) share a filesystem, which decides whether a bundle folder costs room', async () => {
    expect(await sameFilesystem(join(dir, 'cache/blobs'), join(dir, 'out/new'))).toBe(true);
    expect(await sameFilesystem(join(dir, 'x'), '/proc/self')).toBe(false);
  });

  it('adds up needs per filesystem and names the one that is short, with what needs it', async () => {
    const ok = await checkSpace([
      { path: join(dir, 'a'), bytes: 1000, what: 'a' },
      { path: join(dir, 'b/c'), bytes: 1000, what: 'b' },
    ]);
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ ok: true, what: ['a 1000 B', 'b 1000 B'] });
    await expect(checkSpace([{ path: join(dir, 'models'), bytes: 1e15, what: 'models' }])).rejects.toMatchObject({
      code: 'NO_SPACE',
      message: expect.stringMatching(/not enough free space for .*models: needs .* \(models .*, with headroom\), .* free there/),
    });
  });
});
