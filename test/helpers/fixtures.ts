import { createHash, randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FixtureFile {
  name: string;
  path: string;
  sha256: string;
  data: Buffer;
}

/** Writes `count` random files and a manifest that pins them; returns the manifest path and the files. */
export async function fileManifest(
  dir: string,
  o: { name?: string; version?: string; sizes?: number[]; extra?: string } = {},
): Promise<{ manifest: string; files: FixtureFile[] }> {
  const sizes = o.sizes ?? [10, 2000, 70_000];
  const files: FixtureFile[] = [];
  for (const [i, size] of sizes.entries()) {
    const data = randomBytes(size);
    const path = join(dir, `f${i}.bin`);
    await writeFile(path, data);
    files.push({ name: `f${i}`, path, sha256: createHash('sha256').update(data).digest('hex'), data });
  }
  const manifest = join(dir, 'm.yaml');
  const yaml = [
    `name: ${o.name ?? 'test'}`,
    `version: ${o.version ?? '1.0.0'}`,
    'target:',
    '  os: ubuntu-24.04',
    '  arch: amd64',
    '  python: "3.12"',
    'files:',
    ...files.flatMap((f) => [`  - name: ${f.name}`, `    path: ${f.path}`, `    sha256: ${f.sha256}`]),
    o.extra ?? '',
  ].join('\n');
  await writeFile(manifest, `${yaml}\n`);
  return { manifest, files };
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Flips every bit of one byte of a file in place: the smallest damage that verify must notice. */
export async function flipByte(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  await fh.write(b, 0, 1, at);
  await fh.close();
}
