import { open, stat } from 'node:fs/promises';

// Apart from pack.ts, which imports esbuild: the packed script (where esbuild is external) reads these too.

/** An npm package esbuild put into the packed script: what the SBOM lists inside it and audit checks. */
export interface BundledPackage {
  name: string;
  version: string;
  /** The package.json's license (an SPDX expression, as npm asks for), when it has one. */
  license?: string;
  /** Its Subresource Integrity from package-lock.json (`sha512-<base64>`): the registry tarball it came from. */
  integrity?: string;
  /** How many bytes of the packed script are its code (esbuild's metafile, bytesInOutput). */
  bytes?: number;
}

/**
 * The packed script ends with this comment line naming the npm packages inside it (JSON, base64): a script
 * that packs the next bundle's runtime from itself (no node_modules beside it) still knows what it holds,
 * and the line is covered by the script's own sha256.
 */
export const TRAILER = '//# vault-bundle-packages=';

/**
 * The packages a packed script says it holds (its last line); undefined for a script without a readable
 * line, which must not read as "holds no packages" (audit would call them checked).
 */
export async function packagesInScript(file: string): Promise<BundledPackage[] | undefined> {
  const size = (await stat(file)).size;
  const tail = Buffer.alloc(Math.min(size, 64 * 1024));
  const fh = await open(file, 'r');
  try {
    await fh.read(tail, 0, tail.length, size - tail.length);
  } finally {
    await fh.close();
  }
  const text = tail.toString('utf8');
  const at = text.lastIndexOf(`\n${TRAILER}`);
  if (at < 0) return undefined;
  try {
    const list = JSON.parse(Buffer.from(text.slice(at + 1 + TRAILER.length).trim(), 'base64').toString('utf8')) as unknown;
    return Array.isArray(list) ? (list as BundledPackage[]).filter((p) => typeof p?.name === 'string' && typeof p.version === 'string') : undefined;
  } catch {
    return undefined;
  }
}
