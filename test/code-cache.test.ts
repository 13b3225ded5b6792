import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, hostRuntimeBundle, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';
import { WARM_INDEX, writeWarmBundle } from '../src/runtime/code-cache.js';
import { INDEX_SCHEMA } from '../src/bundle/layout.js';

/**
 * The carried runtime's V8 code cache (src/runtime/code-cache.ts): made at build time by a node that runs here,
 * used by runtime/boot.cjs, which every entry point runs; anything that does not fit falls back to a plain compile,
 * and a cache changed behind SHA256SUMS's back is refused like any other runtime file.
 */
let work: string;
let bundle: string;
const PATH = '/usr/bin:/bin';
const REPORT = { VAULT_BUNDLE_BOOT_REPORT: '1' };

function sh(script: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync('sh', [script, ...args], { env: { PATH, ...env }, cwd: work, encoding: 'utf8' });
}

/** boot.cjs run directly (no gate: the cache's bytes are what is being tried), with node's own flags `flags`. */
function boot(dir: string, flags: string[] = []) {
  return spawnSync(process.execPath, [...flags, join(dir, 'runtime/boot.cjs'), '--json', 'verify', dir], {
    env: { PATH, ...REPORT },
    encoding: 'utf8',
  });
}

/** A copy of the bundle made of hard links: replace files, never write into them. */
async function linked(): Promise<string> {
  const d = join(await tempDir(), 'bundle');
  execFileSync('cp', ['-al', bundle, d]);
  return d;
}

const CACHE = 'runtime/vault-bundle.cache';

/** Rewrites a linked copy's SHA256SUMS (a new file: the original is a hard link) with the cache's line changed by `edit`. */
async function editSums(dir: string, edit: (line: string) => string | undefined): Promise<void> {
  const file = join(dir, 'SHA256SUMS');
  const lines = (await readFile(file, 'utf8')).split('\n').flatMap((l) => (l.endsWith(`  ${CACHE}`) ? (edit(l) ?? []) : [l]));
  await rm(file);
  await writeFile(file, lines.join('\n'));
}

/** Replaces the cache with `bytes`, its SHA256SUMS line updated (sums: true) or left as it was. */
async function replaceCache(dir: string, bytes: Buffer, sums: boolean): Promise<void> {
  await rm(join(dir, CACHE));
  await writeFile(join(dir, CACHE), bytes);
  if (sums) await editSums(dir, () => `${createHash('sha256').update(bytes).digest('hex')}  ${CACHE}`);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-codecache-'));
  bundle = await hostRuntimeBundle(work, 'cc');
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('the code cache of the carried CLI', () => {
  it('a host-runtime bundle carries boot.cjs and the cache, listed, in bundle.json and the SBOM; the entry points use it', async () => {
    const idx = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8')) as { runtime: { path: string; name: string }[] };
    expect(idx.runtime.map((r) => r.path)).toEqual(['runtime/node', 'runtime/vault-bundle.cjs', 'runtime/boot.cjs', 'runtime/vault-bundle.cache']);
    const sums = await readFile(join(bundle, 'SHA256SUMS'), 'utf8');
    expect(sums).toMatch(/^[0-9a-f]{64} {2}runtime\/boot\.cjs$/m);
    expect(sums).toMatch(/^[0-9a-f]{64} {2}runtime\/vault-bundle\.cache$/m);
    const sbom = JSON.parse(await readFile(join(bundle, 'sbom.cdx.json'), 'utf8')) as { components: { name: string }[] };
    expect(sbom.components.map((c) => c.name)).toEqual(expect.arrayContaining(['vault-bundle-boot', 'vault-bundle-code-cache']));

    const v = sh(join(bundle, 'verify'), [], REPORT);
    expect(v.stderr).toBe('vault-bundle boot: code cache used\n');
    expect(v.stdout).toMatch(/^OK cc 1\.0\.0: 11 files/m);
    expect(v.status).toBe(0);
    const w = sh(join(bundle, 'vault-bundle'), ['inspect', bundle], REPORT);
    expect(w.stderr).toBe('vault-bundle boot: code cache used\n');
    expect(w.stdout).toContain('cc 1.0.0');
    // No import() (vm.Script would need Node's experimental loader for one), and ASCII only (boot.cjs reads it as latin1).
    const packed = await readFile(BIN, 'latin1');
    expect(packed).not.toMatch(/\bimport\(/);
    expect(packed).not.toMatch(/[^\x00-\x7f]/);
  });

  it('is made over a verify of the warm-up bundle, which verifies OK (no cache is made if it fails)', async () => {
    const d = join(await tempDir(), 'warm');
    await writeWarmBundle(d);
    expect(JSON.parse(WARM_INDEX)).toMatchObject({ schema: INDEX_SCHEMA });
    const r = await runCli(['--json', 'verify', '--threads', '1', d], { env: { VAULT_BUNDLE_TRUST_DIR: join(d, 'none') } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'result', ok: true, files: 1 });
  });

  it('is the same bytes on every build (another cache folder, another temp folder)', async () => {
    const again = join(work, 'b2');
    const b = await runCli(['-q', '--cache-dir', join(work, 'cache2'), 'build', join(work, 'm.yaml'), '--out', again, '--runtime', 'host']);
    expect(b.code).toBe(0);
    const cache = (d: string) => readFile(join(d, 'runtime/vault-bundle.cache'));
    expect((await cache(again)).equals(await cache(bundle))).toBe(true);
  });

  it('a cache that does not fit falls back to a plain compile, silently: other script, damaged, other V8 flags, none', async () => {
    const ok = (r: ReturnType<typeof boot>, status: string) => {
      expect(r.stderr).toBe(`vault-bundle boot: code cache ${status}\n`);
      expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'result', ok: true, name: 'cc' });
      expect(r.status).toBe(0);
    };
    ok(boot(bundle), 'used');
    // Made for other bytes of the script (a vault-bundle.cjs swapped in with its line updated): its header says so.
    const d = await linked();
    const good = await readFile(join(bundle, CACHE));
    const stale = Buffer.concat([Buffer.alloc(32, 7), good.subarray(32)]);
    await replaceCache(d, stale, true);
    ok(boot(d), 'stale');
    // The right header over bytes that are not V8's: V8 rejects them.
    const damaged = Buffer.concat([good.subarray(0, 32), Buffer.alloc(good.length - 32, 0x5a)]);
    await replaceCache(d, damaged, true);
    ok(boot(d), 'rejected');
    // Through the entry point too (its SHA256SUMS line updated, as by someone who rebuilt it): still OK.
    const v = sh(join(d, 'verify'), [], REPORT);
    expect(v.stderr).toBe('vault-bundle boot: code cache rejected\n');
    expect(v.status).toBe(0);
    // Another node's flags (or another node): V8 rejects the cache.
    ok(boot(bundle, ['--no-opt']), 'rejected');
    // None at all (a runtime this machine could not run): the script is compiled as it is.
    await rm(join(d, CACHE));
    await editSums(d, () => undefined);
    ok(boot(d), 'none');
  });

  it('a changed or unlisted cache is refused by ./verify, ./vault-bundle and verify, before anything runs', async () => {
    const d = await linked();
    const good = await readFile(join(bundle, CACHE));
    const tampered = Buffer.from(good);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 100) ^ 1, tampered.length - 100);
    await replaceCache(d, tampered, false);
    for (const [script, args] of [
      ['verify', []],
      ['vault-bundle', ['inspect', d]],
    ] as const) {
      const r = sh(join(d, script), [...args], REPORT);
      expect(r.stderr).toContain('runtime/vault-bundle.cache: FAILED');
      expect(r.stderr).toContain(`${script}: the carried runtime does not match SHA256SUMS`);
      expect(r.stderr).not.toContain('vault-bundle boot');
      expect(r.status).toBe(4);
    }
    const js = await runCli(['verify', d]);
    expect(js.stderr).toMatch(/runtime\/vault-bundle\.cache/);
    expect(js.code).toBe(4);

    // A cache dropped into a bundle whose SHA256SUMS does not list one.
    const e = await linked();
    await editSums(e, () => undefined);
    const r = sh(join(e, 'verify'), [], REPORT);
    expect(r.stderr).toContain('runtime/vault-bundle.cache is not listed in SHA256SUMS');
    expect(r.stderr).not.toContain('vault-bundle boot');
    expect(r.status).toBe(4);
  });
});
