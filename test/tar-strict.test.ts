import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { editTar, tarLayout, tarMember } from './helpers/tar.js';

/**
 * Hostile tars, made here from one good bundle tar: each case is refused by GNU tar (or extracted by `tar -i`
 * beyond what a reader stopping at the first zero block sees), and so by verify, with its own message.
 */
describe('tar bundles are read as strictly as GNU tar reads them', () => {
  let dir: string;
  let good: string;
  const PREFIX = 'test-1.0.0';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vb-tar-strict-'));
    const { manifest } = await fileManifest(dir, { sizes: [10, 3000] });
    await buildIn(dir, manifest, { out: join(dir, 'b'), tar: join(dir, 'good.tar') });
    good = join(dir, 'good.tar');
    expect((await verifyBundle(good)).ok).toBe(true);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function variant(name: string, fn: (tar: Buffer) => Buffer): Promise<string> {
    const f = join(dir, name);
    await copyFile(good, f);
    await editTar(f, fn);
    return f;
  }

  it('a member after the end-of-archive marker: "data after the end of the archive", exit 4 (tar -i extracts it)', async () => {
    const f = await variant('appended.tar', (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([t.subarray(0, end + 1024), tarMember(`${PREFIX}/evil.sh`, 'echo owned\n'), Buffer.alloc(1024)]);
    });
    expect(execFileSync('tar', ['-tif', f], { encoding: 'utf8' })).toContain('evil.sh');
    await expect(verifyBundle(f)).rejects.toMatchObject({ code: 'BAD_TAR', message: expect.stringMatching(/data after the end of the archive.*evil\.sh/) });
    const cli = await runCli(['verify', f]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/data after the end of the archive/);
    // A lone zero block, then a member: the same.
    const lone = await variant('lone-zero.tar', (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([t.subarray(0, end + 512), tarMember(`${PREFIX}/evil.sh`, 'x'), Buffer.alloc(1024)]);
    });
    await expect(verifyBundle(lone)).rejects.toMatchObject({ code: 'BAD_TAR' });
  });

  it('a header whose checksum field was changed is damage (exit 4) naming the member before it, as GNU tar refuses it', async () => {
    for (const [label, edit] of [
      ['digit', (h: Buffer) => (h[149] = h[149] === 0x30 ? 0x31 : 0x30)],
      ['garbage after the digits', (h: Buffer) => (h[148 + 6] = 0x78)], // "00xxxx" + 'x': parseInt would stop before it
    ] as const) {
      let before = '';
      const f = await variant(`cksum-${label.replace(/ /g, '-')}.tar`, (t) => {
        const { headers } = tarLayout(t);
        const victim = headers[2]!;
        before = headers[1]!.name.replace(/\/+$/, '');
        edit(t.subarray(victim.at, victim.at + 512));
        return t;
      });
      const gnu = spawnSync('tar', ['-tf', f], { encoding: 'utf8' });
      expect(gnu.status, label).not.toBe(0);
      const cli = await runCli(['verify', f]);
      expect(cli.code, label).toBe(4);
      expect(cli.stderr, label).toContain(`after the member "${before}"`);
      expect(cli.stderr, label).toMatch(/damaged: a header block fails its checksum/);
    }
  });

  it('hard links, devices and FIFOs are named by their type', async () => {
    const f = await variant('specials.tar', (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([
        t.subarray(0, end),
        tarMember(`${PREFIX}/hl`, '', { type: '1', linkname: `${PREFIX}/bundle.json` }),
        tarMember(`${PREFIX}/dev`, '', { type: '3' }),
        tarMember(`${PREFIX}/fifo`, '', { type: '6' }),
        Buffer.alloc(1024),
      ]);
    });
    const r = await verifyBundle(f);
    expect(r.ok).toBe(false);
    const msgs = r.problems.map((p) => p.message);
    expect(msgs).toContain('hl: a hard link has no place in a bundle');
    expect(msgs).toContain('dev: a character device has no place in a bundle');
    expect(msgs).toContain('fifo: a FIFO has no place in a bundle');
  });

  it('a path with ".." ending in .DS_Store is traversal, never clutter', async () => {
    const f = await variant('dotdot.tar', (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([t.subarray(0, end), tarMember('../.DS_Store', 'x'), tarMember(`${PREFIX}/../../etc/.DS_Store`, 'x'), Buffer.alloc(1024)]);
    });
    const r = await verifyBundle(f);
    expect(r.ok).toBe(false);
    expect(r.ignored ?? []).toEqual([]);
    expect(
      r.problems
        .filter((p) => /leaves the bundle folder/.test(p.message))
        .map((p) => p.path)
        .sort(),
    ).toEqual(['../../etc/.DS_Store', '../.DS_Store']);
    // A genuine .DS_Store inside the bundle stays harmless clutter.
    const ok = await variant('clutter.tar', (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([t.subarray(0, end), tarMember(`${PREFIX}/.DS_Store`, 'x'), Buffer.alloc(1024)]);
    });
    const c = await verifyBundle(ok);
    expect(c.ok).toBe(true);
    expect(c.ignored).toEqual(['.DS_Store']);
  });

  it('a truncated tar is damage after its last whole member; a file that is no tar at all stays a usage error', async () => {
    const cut = await variant('cut.tar', (t) => t.subarray(0, tarLayout(t).headers[3]!.at + 100));
    const cli = await runCli(['verify', cut]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/damaged: .*truncated.*after the member/);
    const junk = await variant('junk.tar', () => Buffer.from('not a tar at all\n'.repeat(100)));
    expect((await runCli(['verify', junk])).code).toBe(64);
  });
});
