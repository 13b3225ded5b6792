import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docByBlocks } from '../src/sources/apt/deb-blocks.js';
import { readDebDoc } from '../src/sources/apt/deb-doc.js';
import { xzBlocks } from '../src/sources/apt/xz-blocks.js';
import { writeDocTree } from './helpers/deb-tree.js';
import { tempDir } from './helpers/tmp.js';

const MAX_TEXT = 4 << 20;

/** An ar archive (deb(5)) of the given members, written by hand: 60-byte headers, 2-byte aligned. */
function ar(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const [name, data] of members) {
    const h = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
    parts.push(Buffer.from(h, 'latin1'), data);
    if (data.length & 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

interface Tree {
  /** 10 MiB in usr/lib first (xz blocks of 1 MiB: the middle ones hold nothing else). */
  big?: boolean;
  copyright?: 'file' | 'link' | 'none';
  /** A file with a 150-character name before the doc (a GNU long-name entry). */
  longName?: boolean;
  format?: 'gnu' | 'pax';
  blockSize?: string;
}

/** A .deb of package `pkg` made by the real GNU tar and xz, its data.tar.xz in xz blocks of `blockSize`. */
async function makeDeb(dir: string, pkg: string, t: Tree): Promise<string> {
  const root = join(dir, `root-${pkg}`);
  await writeDocTree(root, pkg, { ...t, bigBlocks: t.big !== false ? 160 : 0 });
  const tar = join(dir, `${pkg}.tar`);
  execFileSync('tar', ['-cf', tar, `--format=${t.format ?? 'gnu'}`, '--sort=name', '--owner=0', '--group=0', '-C', root, '.']);
  execFileSync('xz', ['-0', '-T1', `--block-size=${t.blockSize ?? '1MiB'}`, '-k', tar]);
  const deb = join(dir, `${pkg}.deb`);
  const control = execFileSync('sh', ['-c', 'mkdir -p c && printf "Package: x\\n" > c/control && tar -cf - -C c ./control | xz -0'], { cwd: dir });
  await writeFile(
    deb,
    ar([
      ['debian-binary', Buffer.from('2.0\n')],
      ['control.tar.xz', control],
      ['data.tar.xz', await readFile(`${tar}.xz`)],
    ]),
  );
  return deb;
}

/** The data member's place in `deb` (the last member of ours). */
async function member(deb: string): Promise<{ start: number; size: number }> {
  const b = await readFile(deb);
  const at = b.lastIndexOf('data.tar.xz');
  const size = Number(
    b
      .subarray(at + 48, at + 58)
      .toString('latin1')
      .trim(),
  );
  return { start: at + 60, size };
}

const args = (pkg: string) => [`usr/share/doc/${pkg}`, `usr/share/doc/${pkg}/copyright`, MAX_TEXT] as const;

describe('apt licences from multi-block data.tar.xz: only the blocks with tar headers are decompressed', () => {
  it('finds the copyright file after a big file, the same as the whole read, without decoding the blocks in between', async () => {
    const dir = await tempDir();
    const deb = await makeDeb(dir, 'libbig1', {});
    const m = await member(deb);
    const x = await xzBlocks(deb, m.start, m.size);
    expect(x?.blocks.length).toBeGreaterThan(5);
    const whole = await readDebDoc(deb, 'libbig1', { blocks: false });
    expect(whole.kind).toBe('copyright');
    expect(await docByBlocks(deb, m, ...args('libbig1'))).toEqual(whole);
    expect(await readDebDoc(deb, 'libbig1')).toEqual(whole);

    // Garbage in the middle blocks' compressed bytes: a whole read fails there (xz's check), the block reader
    // never decodes them. (The build reads only .debs whose sha256 matched the signed index; this shows the skip.)
    const bytes = await readFile(deb);
    const b3 = x!.blocks[3]!;
    bytes.fill(0x55, m.start + b3.at + 64, m.start + b3.at + 4096);
    const broken = join(dir, 'broken.deb');
    await writeFile(broken, bytes);
    expect(await docByBlocks(broken, m, ...args('libbig1'))).toEqual(whole);
    expect((await readDebDoc(broken, 'libbig1', { blocks: false })).kind).not.toBe('copyright');
  });

  it('reads the doc folder link and a GNU long name as the whole read does', async () => {
    const dir = await tempDir();
    const linked = await makeDeb(dir, 'liblink1', { copyright: 'link' });
    const whole = await readDebDoc(linked, 'liblink1', { blocks: false });
    expect(whole).toEqual({ kind: 'link', path: 'usr/share/doc/liblink1/copyright', target: 'other' });
    expect(await docByBlocks(linked, await member(linked), ...args('liblink1'))).toEqual(whole);

    const long = await makeDeb(dir, 'liblong1', { longName: true });
    const m = await member(long);
    expect((await readFile(long)).includes('././@LongLink')).toBe(false); // compressed: look in the tar instead
    expect((await readFile(join(dir, 'liblong1.tar'))).includes('././@LongLink')).toBe(true);
    expect(await docByBlocks(long, m, ...args('liblong1'))).toEqual(await readDebDoc(long, 'liblong1', { blocks: false }));
  });

  it('leaves to the whole read what it does not answer: no copyright, a PAX tar, one block', async () => {
    const dir = await tempDir();
    const none = await makeDeb(dir, 'libnone1', { copyright: 'none' });
    expect(await docByBlocks(none, await member(none), ...args('libnone1'))).toBeUndefined();
    expect(await readDebDoc(none, 'libnone1')).toEqual({ kind: 'missing', path: 'usr/share/doc/libnone1/copyright' });

    const pax = await makeDeb(dir, 'libpax1', { format: 'pax' });
    expect(await docByBlocks(pax, await member(pax), ...args('libpax1'))).toBeUndefined();
    expect((await readDebDoc(pax, 'libpax1')).kind).toBe('copyright');

    const one = await makeDeb(dir, 'libone1', { big: false, blockSize: '64MiB' });
    const m = await member(one);
    expect((await xzBlocks(one, m.start, m.size))?.blocks.length).toBe(1);
    expect(await docByBlocks(one, m, ...args('libone1'))).toBeUndefined();
    expect((await readDebDoc(one, 'libone1')).kind).toBe('copyright');

    // A member cut short: no index to read, so no blocks.
    expect(await xzBlocks(one, m.start, m.size - 7)).toBeUndefined();
  });
});
