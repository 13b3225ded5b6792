import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyBundle } from '../src/bundle/verify.js';
import { expiryOf } from '../src/bundle/publish.js';
import { compareSemver } from '../src/bundle/trust.js';
import { installBundle } from '../src/install/install.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** A file bundle of `name` at `version` that installs one file under `dir/box`. */
async function bundle(dir: string, version: string, name = 'rb'): Promise<string> {
  const sub = join(dir, `src-${name}-${version}`);
  await (await import('node:fs/promises')).mkdir(sub, { recursive: true });
  const { manifest } = await fileManifest(sub, { name, version, sizes: [64] });
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace(/( {4}sha256: .+\n)/, `$1    install: { dest: ${join(dir, 'box', name)} }\n`));
  return (await buildIn(sub, manifest, { out: join(dir, `${name}-${version}`) })).dir;
}

// fileManifest's bundles are for ubuntu-24.04, whatever box runs the tests: the target is not what these test.
const install = (b: string, stateDir: string, o: { dryRun?: boolean; allowDowngrade?: boolean; allowExpired?: boolean; now?: Date } = {}) =>
  installBundle({
    bundle: b,
    dryRun: Boolean(o.dryRun),
    stateDir,
    ignoreTarget: true,
    ...o,
    exec: execFile,
    report: () => {},
    signal: new AbortController().signal,
  });

describe('semver precedence', () => {
  it('orders versions as SemVer 2.0.0 §11 does', () => {
    const sorted = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    const shuffled = [...sorted].reverse();
    expect(shuffled.sort(compareSemver)).toEqual(sorted);
    expect(compareSemver('1.0.0+build.5', '1.0.0')).toBe(0);
  });
});

describe('rollback', () => {
  it('refuses a lower version than the one installed under the same name, unless --allow-downgrade', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    const v110 = await bundle(dir, '1.1.0');
    const v100 = await bundle(dir, '1.0.0');
    const v120rc = await bundle(dir, '1.2.0-rc.1');
    // A dry run of a newer version does not count as installed.
    await install(v120rc, state, { dryRun: true });
    await install(v110, state);
    const err = await install(v100, state).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'DOWNGRADE',
      exitCode: 4,
      message: expect.stringContaining('rb 1.0.0 is older than rb 1.1.0, which this box has installed'),
      hint: expect.stringContaining('--allow-downgrade'),
      expected: '>= 1.1.0',
      found: '1.0.0',
    });
    // Refused in a dry run too, so the plan says so before the real run.
    await expect(install(v100, state, { dryRun: true })).rejects.toMatchObject({ code: 'DOWNGRADE' });
    // The same version again is fine (idempotent), and so is a newer one.
    expect((await install(v110, state)).reports[0]!.unchanged).toHaveLength(1);
    await install(v120rc, state);
    // 1.1.0 < 1.2.0-rc.1: refused now; a deliberate rollback goes through and is journalled.
    await expect(install(v110, state)).rejects.toMatchObject({ code: 'DOWNGRADE', message: expect.stringContaining('than rb 1.2.0-rc.1') });
    const back = await install(v100, state, { allowDowngrade: true });
    expect(back.reports[0]!.changed).toHaveLength(1);
    // Another bundle name is not compared.
    await install(await bundle(dir, '0.1.0', 'other'), state);

    const cli = await runCli(['install', v110, '--state-dir', state, '--ignore-target']);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(/error: rb 1\.1\.0 is older than rb 1\.2\.0-rc\.1[\s\S]*hint: .*--allow-downgrade/);
    expect((await runCli(['install', v110, '--state-dir', state, '--ignore-target', '--allow-downgrade'])).code).toBe(0);
  });
});

describe('expiry', () => {
  it('--expires takes an ISO date or a duration from the created time, and refuses one already past', () => {
    const created = '2026-01-01T00:00:00.000Z';
    const now = new Date('2026-01-02T00:00:00Z');
    expect(expiryOf('90d', created, now)).toBe('2026-04-01T00:00:00.000Z');
    expect(expiryOf('2w', created, now)).toBe('2026-01-15T00:00:00.000Z');
    expect(expiryOf('36h', created, now)).toBe('2026-01-02T12:00:00.000Z');
    expect(expiryOf('2027-06-30', created, now)).toBe('2027-06-30T00:00:00.000Z');
    expect(expiryOf('2027-06-30T12:30:00+02:00', created, now)).toBe('2027-06-30T10:30:00.000Z');
    expect(() => expiryOf('soon', created, now)).toThrow(expect.objectContaining({ code: 'BAD_FLAG' }));
    expect(() => expiryOf('12h', created, now)).toThrow(expect.objectContaining({ code: 'BAD_FLAG', message: expect.stringContaining('already passed') }));
  });

  it('verify and install refuse a bundle past its expiry with a clear message, unless --allow-expired', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir, { name: 'fresh', sizes: [10] });
    const cli = await runCli(['--cache-dir', join(dir, 'cache'), 'build', manifest, '--out', join(dir, 'b'), '--runtime', 'none', '--expires', '30d']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/; expires \d{4}-\d\d-\d\dT/);
    const b = join(dir, 'b');
    const index = JSON.parse(await readFile(join(b, 'bundle.json'), 'utf8'));
    expect(Date.parse(index.expires) - Date.parse(index.created)).toBe(30 * 86_400_000);

    const fresh = await verifyBundle(b);
    expect(fresh).toMatchObject({ ok: true, expires: index.expires, expired: false });
    const later = new Date(Date.parse(index.expires) + 3 * 86_400_000);
    const old = await verifyBundle(b, { now: later });
    expect(old.ok).toBe(false);
    expect(old.problems).toEqual([
      expect.objectContaining({
        code: 'EXPIRED',
        path: 'bundle.json',
        message: `bundle.json: fresh 1.0.0 expired on ${index.expires} (3 day(s) ago); get a current bundle, or accept it knowingly with --allow-expired`,
      }),
    ]);
    expect(await verifyBundle(b, { now: later, allowExpired: true })).toMatchObject({ ok: true, expired: true });
    const state = join(dir, 'state');
    await expect(install(b, state, { now: later })).rejects.toMatchObject({ code: 'EXPIRED', exitCode: 4, hint: expect.stringContaining('--allow-expired') });
    await install(b, state, { now: later, allowExpired: true });

    // The CLI, on a copy whose bundle.json says it expired yesterday (SHA256SUMS made to match, as an old bundle would be).
    index.expires = new Date(Date.now() - 86_400_000).toISOString();
    const text = `${JSON.stringify(index, null, 2)}\n`;
    await writeFile(join(b, 'bundle.json'), text);
    const sums = (await readFile(join(b, 'SHA256SUMS'), 'utf8')).replace(
      /^[0-9a-f]{64}( {2}bundle\.json)$/m,
      `${createHash('sha256').update(text).digest('hex')}$1`,
    );
    await writeFile(join(b, 'SHA256SUMS'), sums);
    const v = await runCli(['verify', b]);
    expect(v.code).toBe(4);
    expect(v.stderr).toContain(`EXPIRED: bundle.json: fresh 1.0.0 expired on ${index.expires}`);
    const ok = await runCli(['verify', b, '--allow-expired']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`EXPIRED on ${index.expires}`);
    const inst = await runCli(['install', b, '--dry-run', '--state-dir', state, '--ignore-target']);
    expect(inst.code).toBe(4);
    expect(inst.stderr).toMatch(/error: .*expired on[\s\S]*hint: .*--allow-expired/);
  });
});
