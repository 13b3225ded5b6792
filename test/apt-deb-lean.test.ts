import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDebDoc } from '../src/sources/apt/deb-doc.js';
import { docLean } from '../src/sources/apt/deb-lean.js';
import { writeDocTree } from './helpers/deb-tree.js';
import { tempDir } from './helpers/tmp.js';

const MAX_TEXT = 4 << 20;

interface Tree {
  copyright: 'file' | 'link' | 'none';
  /** A file with a 150-character name before the doc (a GNU long-name entry). */
  longName?: boolean;
  /** 3 MiB in usr/lib first (the walker passes over it). */
  big?: boolean;
}

/** The package tree of `pkg` (DEBIAN/control included), for dpkg-deb -b or a hand-made tar. */
async function tree(dir: string, pkg: string, t: Tree): Promise<string> {
  const root = join(dir, `root-${pkg}-${randomBytes(4).toString('hex')}`);
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await writeFile(join(root, 'DEBIAN/control'), `Package: ${pkg}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test\n`);
  await writeDocTree(root, pkg, { ...t, bigBlocks: t.big ? 48 : 0 });
  return root;
}

/** A .deb built by the real dpkg-deb, its data member compressed with `z` (dpkg-deb -Z). */
async function dpkgDeb(dir: string, pkg: string, z: string, t: Tree): Promise<string> {
  const deb = join(dir, `${pkg}-${z}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${z}`, '-b', await tree(dir, pkg, t), deb], { stdio: 'ignore' });
  return deb;
}

/** The data member's place and name in `deb`, read by the real `ar`'s rules (60-byte headers, 2-byte aligned). */
async function member(deb: string): Promise<{ name: string; start: number; size: number }> {
  const b = await readFile(deb);
  for (let off = 8; off + 60 <= b.length;) {
    const name = b
      .subarray(off, off + 16)
      .toString('latin1')
      .trimEnd();
    const size = Number(
      b
        .subarray(off + 48, off + 58)
        .toString('latin1')
        .trim(),
    );
    if (name.startsWith('data.tar')) return { name, start: off + 60, size };
    off += 60 + size + (size & 1);
  }
  throw new Error('no data member');
}

const args = (pkg: string) => [`usr/share/doc/${pkg}`, `usr/share/doc/${pkg}/copyright`, MAX_TEXT] as const;

describe('apt licences read lean (one decompressor, a header walker): the same DebDoc as dpkg-deb + node-tar', () => {
  for (const z of ['xz', 'zstd', 'gzip', 'none']) {
    it(`data.tar by dpkg-deb -Z${z}: a copyright file, a doc link, a long name, a big file before it`, async () => {
      const dir = await tempDir();
      const cases: [string, Tree][] = [
        ['libfile1', { copyright: 'file' }],
        ['liblink1', { copyright: 'link' }],
        ['liblong1', { copyright: 'file', longName: true }],
        ['libbig1', { copyright: 'file', big: true }],
      ];
      for (const [pkg, t] of cases) {
        const deb = await dpkgDeb(dir, pkg, z, t);
        const full = await readDebDoc(deb, pkg, { lean: false });
        expect(full.kind).toBe(t.copyright === 'link' ? 'link' : 'copyright');
        // The lean read answers by itself (no fall-back to the full read) and says the same: its decompressor
        // started by the shared shell (util/launcher.ts), and by this process where there is none.
        expect(await docLean(deb, await member(deb), ...args(pkg))).toEqual(full);
        process.env.VAULT_LAUNCHER = '0';
        try {
          expect(await docLean(deb, await member(deb), ...args(pkg))).toEqual(full);
        } finally {
          delete process.env.VAULT_LAUNCHER;
        }
        expect(await readDebDoc(deb, pkg)).toEqual(full);
      }
    });
  }

  it('leaves to the full read what it does not answer: no copyright file, a PAX tar', async () => {
    const dir = await tempDir();
    const none = await dpkgDeb(dir, 'libnone1', 'xz', { copyright: 'none' });
    expect(await docLean(none, await member(none), ...args('libnone1'))).toBeUndefined();
    expect(await readDebDoc(none, 'libnone1')).toEqual({ kind: 'missing', path: 'usr/share/doc/libnone1/copyright' });

    // dpkg-deb writes GNU tar; a PAX data.tar.gz put in by hand (ar members: debian-binary, control, data).
    const root = await tree(dir, 'libpax1', { copyright: 'file' });
    execFileSync('sh', [
      '-c',
      `tar --format=pax --owner=0 --group=0 --exclude=./DEBIAN -czf ${dir}/data.tar.gz -C ${root} . && tar -czf ${dir}/control.tar.gz -C ${root}/DEBIAN ./control && printf '2.0\\n' > ${dir}/debian-binary`,
    ]);
    const pax = join(dir, 'libpax1.deb');
    execFileSync('ar', ['rc', pax, 'debian-binary', 'control.tar.gz', 'data.tar.gz'], { cwd: dir });
    expect(await docLean(pax, await member(pax), ...args('libpax1'))).toBeUndefined();
    const full = await readDebDoc(pax, 'libpax1', { lean: false });
    expect(full.kind).toBe('copyright');
    expect(await readDebDoc(pax, 'libpax1')).toEqual(full);
  });
});
