import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const COPYRIGHT = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: 2026 Test\nLicense: MIT\n';

export interface DocTree {
  copyright?: 'file' | 'link' | 'none';
  /** A file with a 150-character name before the doc (a GNU long-name entry). */
  longName?: boolean;
  /** usr/lib/libbig.so.1 first, of this many 64 KiB blocks (one random block repeated: quick to compress). */
  bigBlocks?: number;
}

/**
 * The file tree of a package's data.tar under `root`: usr/lib (a big library first, as in a real .deb, where the
 * copyright comes after it) and usr/share/doc/<pkg> with its copyright file, or a link to another package's
 * doc folder, or nothing.
 */
export async function writeDocTree(root: string, pkg: string, t: DocTree): Promise<void> {
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await mkdir(join(root, 'usr/share/doc'), { recursive: true });
  if (t.bigBlocks) await writeFile(join(root, 'usr/lib/libbig.so.1'), Buffer.concat(new Array<Buffer>(t.bigBlocks).fill(randomBytes(64 << 10))));
  if (t.longName) await writeFile(join(root, 'usr/lib', `${'l'.repeat(150)}.so`), 'x');
  if (t.copyright === 'link') {
    await mkdir(join(root, 'usr/share/doc/other'), { recursive: true });
    await symlink('other', join(root, 'usr/share/doc', pkg));
  } else {
    await mkdir(join(root, 'usr/share/doc', pkg), { recursive: true });
    if ((t.copyright ?? 'file') === 'file') await writeFile(join(root, 'usr/share/doc', pkg, 'copyright'), COPYRIGHT);
  }
}
