import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { copyFile, lstat, readFile, readdir, rm, writeFile, mkdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { validateSbom } from '../src/sbom/cyclonedx.js';
import { verifyBundle } from '../src/bundle/verify.js';
import { readLock } from '../src/lock/lock.js';
import { fileManifest, sha256 } from './helpers/fixtures.js';
import { buildIn } from './helpers/build.js';
import { tempDir } from './helpers/tmp.js';
import { fixtureWheels } from './helpers/wheels.js';

describe('build', () => {
  it('writes blobs, bundle.json, a valid CycloneDX SBOM and SHA256SUMS that sha256sum accepts', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir);
    const r = await buildIn(dir, manifest);
    const out = r.dir;
    for (const f of files) {
      expect(sha256(await readFile(join(out, 'blobs/sha256', f.sha256)))).toBe(sha256(f.data));
    }
    const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    const paths = sums
      .trim()
      .split('\n')
      .map((l) => l.slice(66));
    expect(paths).toEqual([...paths].sort());
    expect(paths).toContain('bundle.json');
    expect(paths).toContain('sbom.cdx.json');
    expect(paths).not.toContain('SHA256SUMS');
    // The real coreutils accepts it, strictly.
    const check = execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
    expect(check.trim().split('\n')).toHaveLength(files.length + 2);

    const index = JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8'));
    expect(index).toMatchObject({ schema: 'vault-bundle/v1', name: 'test', version: '1.0.0', tool: { name: 'vault-bundle' } });
    expect(index.artifacts.map((a: { id: string }) => a.id)).toEqual(['file:f0', 'file:f1', 'file:f2']);
    expect(index.manifest.inputsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const sbom = await readFile(join(out, 'sbom.cdx.json'), 'utf8');
    expect(await validateSbom(sbom)).toBeNull();
    const bom = JSON.parse(sbom);
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component).toMatchObject({ name: 'test', version: '1.0.0' });
    expect(new Date(bom.metadata.timestamp).toISOString()).toBe(index.created);
    const c = bom.components.find((x: { name: string }) => x.name === 'f1');
    expect(c.hashes).toEqual([{ alg: 'SHA-256', content: files[1]!.sha256 }]);
    expect(c.purl).toBe(`pkg:generic/f1@${files[1]!.sha256.slice(0, 12)}?checksum=sha256%3A${files[1]!.sha256}`);
  });

  it('writes the lock next to the manifest with what every artifact needs', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir);
    const r = await buildIn(dir, manifest);
    expect(r.lockResolved).toBe(true);
    expect(r.lockPath).toBe(join(dir, 'm.lock.json'));
    const lock = await readLock(r.lockPath);
    const a = lock.artifacts[0]!;
    expect(a).toMatchObject({
      kind: 'file',
      name: 'f0',
      size: files[0]!.data.length,
      digest: `sha256:${files[0]!.sha256}`,
      provenance: { kind: 'manifest-pin' },
    });
    expect(a.url).toMatch(/^file:\/\//);
    expect(a.purl).toMatch(/^pkg:generic\/f0@/);
  });

  it('is reproducible: the same lock gives byte-identical folders and tars', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await buildIn(dir, manifest, { out: join(dir, 'a'), tar: join(dir, 'a.tar') });
    // A second build from another cache: nothing may depend on the cache or the time of the build.
    await buildIn(dir, manifest, { out: join(dir, 'b'), tar: join(dir, 'b.tar'), cacheDir: join(dir, 'cache2') });
    expect(sha256(await readFile(join(dir, 'a.tar')))).toBe(sha256(await readFile(join(dir, 'b.tar'))));
    for (const f of ['SHA256SUMS', 'bundle.json', 'sbom.cdx.json']) {
      expect(await readFile(join(dir, 'a', f), 'utf8')).toBe(await readFile(join(dir, 'b', f), 'utf8'));
    }
    const list = execFileSync('tar', ['-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
    expect(list).toMatch(/0\/0 .* test-1\.0\.0\/SHA256SUMS/);
  });

  it('SOURCE_DATE_EPOCH sets the creation time', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    try {
      const r = await buildIn(dir, manifest);
      const index = JSON.parse(await readFile(join(r.dir, 'bundle.json'), 'utf8'));
      expect(index.created).toBe('2023-11-14T22:13:20.000Z');
    } finally {
      delete process.env.SOURCE_DATE_EPOCH;
    }
  });

  it('--frozen refuses a missing or stale lock; a plain build locks a changed manifest again', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await expect(buildIn(dir, manifest, { frozen: true })).rejects.toMatchObject({ code: 'LOCK_MISSING' });
    await buildIn(dir, manifest);
    await buildIn(dir, manifest, { frozen: true });
    // Edit a source: the lock no longer matches.
    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace('name: f0', 'name: g0'));
    const err = await buildIn(dir, manifest, { frozen: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOCK_STALE', exitCode: 2, hint: expect.stringContaining('vault-bundle lock') });
    const again = await buildIn(dir, manifest);
    expect(again.lockResolved).toBe(true);
    expect(again.events).toContainEqual({ type: 'info', message: expect.stringContaining('the manifest changed since it was locked; locked again') });
    expect((await readLock(again.lockPath)).artifacts.map((a) => a.id)).toEqual(['file:f1', 'file:f2', 'file:g0']);
    // Bumping only the bundle version keeps the lock valid.
    await writeFile(manifest, text.replace('name: f0', 'name: g0').replace('version: 1.0.0', 'version: 1.0.1'));
    await expect(buildIn(dir, manifest, { frozen: true })).resolves.toMatchObject({ lockResolved: false });
  });

  it('after a build that failed on a wrong sha256, the corrected pin builds without a manual lock', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir);
    const text = await readFile(manifest, 'utf8');
    const wrong = 'ab'.repeat(32);
    for (const t of [text, text.replace(`path: ${files[1]!.path}`, `url: file://${files[1]!.path}`)]) {
      await rm(join(dir, 'm.lock.json'), { force: true });
      await writeFile(manifest, t.replace(files[1]!.sha256, wrong));
      await expect(buildIn(dir, manifest)).rejects.toMatchObject({
        code: 'DIGEST_MISMATCH',
        exitCode: 4,
        subject: 'file:f1',
        expected: `sha256:${wrong}`,
        found: `sha256:${files[1]!.sha256}`,
        hint: expect.stringContaining('a plain build re-locks'),
      });
      // Correcting the pin is enough: the build locks again (it was LOCK_STALE, and a separate "lock").
      await writeFile(manifest, t);
      const fixed = await buildIn(dir, manifest);
      expect(fixed.lockResolved).toBe(true);
      expect((await verifyBundle(fixed.dir)).ok).toBe(true);
    }
  });

  it('locking again keeps the pins of the sections that did not change', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [10] });
    const wheels = join(dir, 'wheels');
    await mkdir(wheels);
    const fixtures = join(fixtureWheels(), 'wheels');
    await copyFile(join(fixtures, 'vb_beta-1.0.0-py3-none-any.whl'), join(wheels, 'vb_beta-1.0.0-py3-none-any.whl'));
    const text = `${await readFile(manifest, 'utf8')}pip:\n  no-index: true\n  find-links: [${wheels}]\n  packages: [vb-beta]\n`;
    await writeFile(manifest, text);
    const first = await buildIn(dir, manifest);
    const pinned = first.lock.artifacts.find((a) => a.kind === 'pip')!;
    expect(pinned.version).toBe('1.0.0');
    // A newer wheel appears; then only the files section is edited.
    await copyFile(join(fixtures, 'vb_beta-2.1.0-py3-none-any.whl'), join(wheels, 'vb_beta-2.1.0-py3-none-any.whl'));
    await writeFile(manifest, text.replace('name: f0', 'name: g0'));
    const second = await buildIn(dir, manifest);
    expect(second.lockResolved).toBe(true);
    expect(second.events).toContainEqual({ type: 'info', message: expect.stringContaining('pins of unchanged sections kept: pip') });
    expect(second.events).not.toContainEqual({ type: 'phase', phase: 'resolve', detail: 'pip' });
    expect(second.lock.artifacts.find((a) => a.kind === 'pip')).toEqual(pinned);
    expect(second.lock.artifacts.filter((a) => a.kind === 'file').map((a) => a.id)).toEqual(['file:g0']);
    // The pip section changed: it is resolved again, and takes the newer wheel.
    await writeFile(manifest, text.replace('name: f0', 'name: g0').replace('packages: [vb-beta]', 'packages: ["vb-beta>=1"]'));
    const third = await buildIn(dir, manifest);
    expect(third.lock.artifacts.find((a) => a.kind === 'pip')!.version).toBe('2.1.0');
  });

  it('a warm rebuild fetches nothing and replaces the bundle in one rename', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await buildIn(dir, manifest);
    const again = await buildIn(dir, manifest);
    expect(again.events.filter((e) => e.type === 'download:start')).toHaveLength(0);
    expect(again.events.filter((e) => e.type === 'download:done' && e.cached)).toHaveLength(3);
    expect((await verifyBundle(again.dir)).ok).toBe(true);
    // No temp or old folders left beside it.
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses to overwrite a folder that is not a bundle', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const out = join(dir, 'precious');
    await mkdir(out);
    await writeFile(join(out, 'thesis.txt'), 'do not lose me');
    await expect(buildIn(dir, manifest, { out })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    expect(await readFile(join(out, 'thesis.txt'), 'utf8')).toBe('do not lose me');
  });

  it('a pinned hash that does not match names the artifact and leaves no bundle', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir);
    await writeFile(files[1]!.path, 'changed on disk');
    const err = await buildIn(dir, manifest).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', subject: 'file:f1' });
    expect(String((err as Error).message)).toContain('file:f1');
    await expect(stat(join(dir, 'out'))).rejects.toThrow();
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a same-size file with other bytes is a digest mismatch with expected and found', async () => {
    const dir = await tempDir();
    const { manifest, files } = await fileManifest(dir, { sizes: [64] });
    await writeFile(files[0]!.path, Buffer.alloc(64, 1));
    const err = await buildIn(dir, manifest).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'DIGEST_MISMATCH',
      expected: `sha256:${files[0]!.sha256}`,
      found: `sha256:${sha256(Buffer.alloc(64, 1))}`,
    });
  });

  it('a path it cannot write fails before anything is resolved or fetched, naming the path (exit 5)', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await writeFile(join(dir, 'afile'), 'keep');
    const events: string[] = [];
    const through = await buildIn(dir, manifest, { out: join(dir, 'afile', 'sub'), onEvent: (e) => events.push(e.type) }).catch((e: unknown) => e);
    expect(through).toMatchObject({
      code: 'WRITE_FAILED',
      exitCode: 5,
      message: `cannot write --out ${join(dir, 'afile', 'sub')}: ${join(dir, 'afile')} is a file, not a folder`,
    });
    const tarThrough = await buildIn(dir, manifest, { tar: join(dir, 'afile', 'x.tar') }).catch((e: unknown) => e);
    expect(tarThrough).toMatchObject({
      code: 'WRITE_FAILED',
      message: expect.stringContaining(`--tar ${join(dir, 'afile', 'x.tar')}: ${join(dir, 'afile')} is a file`),
    });
    const tarFolder = await buildIn(dir, manifest, { tar: dir }).catch((e: unknown) => e);
    expect(tarFolder).toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('it is a folder') });
    const onFile = await buildIn(dir, manifest, { out: join(dir, 'afile') }).catch((e: unknown) => e);
    expect(onFile).toMatchObject({ code: 'OUTPUT_EXISTS', message: `${join(dir, 'afile')} is a file, not a bundle folder; refusing to replace it` });
    expect(events).toEqual([]);
    // Nothing was locked, fetched or written.
    expect((await readdir(dir)).sort()).toEqual(['afile', 'f0.bin', 'f1.bin', 'f2.bin', 'm.yaml']);
    expect(await readFile(join(dir, 'afile'), 'utf8')).toBe('keep');
  });

  it('a tar that fails to be written leaves the previous bundle in place: the folder is swapped in after the tar', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const out = join(dir, 'bundles', 'x');
    await buildIn(dir, manifest, { out });
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('version: 1.0.0', 'version: 1.0.1'));
    const tars = join(dir, 'tars');
    await mkdir(tars);
    // The tar's folder passes the check at start, then turns into a file when the tar step begins.
    const err = await buildIn(dir, manifest, {
      out,
      tar: join(tars, 'x.tar'),
      onEvent: (e) => {
        if (e.type === 'phase' && e.phase === 'tar') {
          rmSync(tars, { recursive: true });
          writeFileSync(tars, '');
        }
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WRITE_FAILED', exitCode: 5 });
    expect(JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')).version).toBe('1.0.0');
    expect(await readdir(join(dir, 'bundles'))).toEqual(['x']);
  });

  it('a symlinked --out is followed: the bundle replaces the folder it points to, and the link stays', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await mkdir(join(dir, 'real'));
    await symlink('real', join(dir, 'link'));
    const r = await buildIn(dir, manifest, { out: join(dir, 'link') });
    expect(r.dir).toBe(join(dir, 'real'));
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
    expect((await verifyBundle(join(dir, 'link'))).ok).toBe(true);
    await buildIn(dir, manifest, { out: join(dir, 'link') });
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('counts the files as verify does (those SHA256SUMS lists), plain, split and signed', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const { privateKey } = await openpgp.generateKey({ userIDs: [{ name: 'Release', email: 'release@test.invalid' }], format: 'armored' });
    await writeFile(join(dir, 'release.sec.asc'), privateKey);
    // The split form lists one file more: parts.json, which SHA256SUMS covers so that the signature does.
    const forms = [
      { o: {}, files: 5 },
      { o: { media: 'fat32' as const, partSize: 1 << 20 }, files: 6 },
      { o: { signKey: join(dir, 'release.sec.asc') }, files: 5 },
    ];
    for (const { o, files } of forms) {
      const r = await buildIn(dir, manifest, { out: join(dir, `out-${Object.keys(o).join('-')}`), ...o });
      const v = await verifyBundle(r.dir);
      expect(v.ok).toBe(true);
      expect(r.files).toBe(v.files);
      expect(r.files).toBe(files);
    }
  });
});
