import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { detachSign, makeTimedKey, revokeKey, type TimedKey } from './helpers/pgp-time.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The bundle's SHA256SUMS.asc under the same time policy as an upstream InRelease (src/pgp/policy.ts): a good
 * signature by a release key that has expired since, or was revoked, is refused by verify, install and the carried
 * sh ./verify (gpgv alone exits 0 for EXPKEYSIG and REVKEYSIG), with or without --key (the box trust policy).
 */
let work: string;
let bundle: string;
let expired: TimedKey;
let revoked: TimedKey;
let good: TimedKey;
const JUNE2020 = new Date('2020-06-01T00:00:00Z');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-sig-time-'));
  expired = await makeTimedKey(work, 'Old Release', { created: new Date('2020-01-01T00:00:00Z'), expire: '1y' });
  revoked = await makeTimedKey(work, 'Revoked Release');
  good = await makeTimedKey(work, 'Good Release');
  const { manifest } = await fileManifest(work, { name: 'sigtime', sizes: [100, 3000] });
  bundle = join(work, 'b');
  const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', manifest, '--out', bundle, '--runtime', 'host']);
  expect(b.code, b.stderr).toBe(0);
}, 240_000);
afterAll(() => rm(work, { recursive: true, force: true }));

/** A hard-linked copy of the (unsigned) bundle with SHA256SUMS.asc made by gpg at `at`. */
async function signedBy(k: TimedKey, at?: Date): Promise<string> {
  const d = join(await tempDir(), 'bundle');
  execFileSync('cp', ['-al', bundle, d]);
  detachSign(k, join(d, 'SHA256SUMS'), join(d, 'SHA256SUMS.asc'), at ? { at } : {});
  return d;
}

const sh = (b: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync('sh', [join(b, 'verify'), ...args], { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8' });

describe('SHA256SUMS.asc by a release key that expired or was revoked', () => {
  it('expired since it signed: verify and install refuse it (SIGNATURE_REFUSED, exit 4) naming the key, the date and what to do', async () => {
    const d = await signedBy(expired, JUNE2020);
    const v = await runCli(['verify', d, '--key', expired.pub]);
    expect(v.code).toBe(4);
    expect(v.stderr).toContain(`SIGNATURE_REFUSED: SHA256SUMS.asc: the signing key ${expired.fingerprint} expired on 2020-12-31`);
    expect(v.stderr).toMatch(/sign it again with a current key|sign the bundle again with a current key/);
    const j = await runCli(['--json', 'verify', d, '--key', expired.pub]);
    const rep = JSON.parse(j.stdout) as { problems: { code: string; found?: string }[]; signature: { status: string } };
    expect(rep.problems[0]).toMatchObject({ code: 'SIGNATURE_REFUSED', found: expired.fingerprint });
    expect(rep.signature.status).toBe('invalid');
    const i = await runCli(['install', d, '--dry-run', '--ignore-target', '--state-dir', join(work, 'state'), '--key', expired.pub]);
    expect(i.code).toBe(4);
    expect(i.stderr).toContain(`SHA256SUMS.asc: the signing key ${expired.fingerprint} expired on 2020-12-31T00:00:00Z`);
    expect(i.stderr).toMatch(/hint: the release key signed it, but that key has expired or was revoked/);
  });

  it('the carried sh ./verify refuses it before the runtime runs, though gpgv exits 0 (EXPKEYSIG)', async () => {
    const d = await signedBy(expired, JUNE2020);
    const r = sh(d, ['--key', expired.pub]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(
      `SIGNATURE_REFUSED: SHA256SUMS.asc is signed by the release key ${expired.pub}, but the release key ${expired.fingerprint} expired on 2020-12-31`,
    );
    expect(r.stderr).toContain('EXPKEYSIG');
    expect(r.stderr).toContain('nothing from this bundle was run');
    expect(r.stdout).not.toMatch(/^OK/m);
  });

  it('revoked: refused by verify and by the carried ./verify (REVKEYSIG); the box trust policy refuses it with no flag', async () => {
    const d = await signedBy(revoked);
    await revokeKey(revoked);
    const v = await runCli(['verify', d, '--key', revoked.pub]);
    expect(v.code).toBe(4);
    expect(v.stderr).toContain(`SIGNATURE_REFUSED: SHA256SUMS.asc: the signing key ${revoked.fingerprint} was revoked on`);
    const r = sh(d, ['--key', revoked.pub]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`but the release key ${revoked.fingerprint} was revoked by its owner (gpgv: REVKEYSIG)`);
    const trust = join(await tempDir(), 'trust');
    await mkdir(trust);
    execFileSync('cp', [revoked.pub, join(trust, 'release.asc')]);
    const env = { VAULT_BUNDLE_TRUST_DIR: trust };
    const p = await runCli(['verify', d], { env });
    expect(p.code).toBe(4);
    expect(p.stderr).toContain('SIGNATURE_REFUSED');
    const ps = sh(d, [], env);
    expect(ps.status).toBe(4);
    expect(ps.stderr).toContain(`SIGNATURE_REFUSED: SHA256SUMS.asc is signed by the box trust policy (${trust})`);
  });

  it('a current key passes both ways (the reference works)', async () => {
    const d = await signedBy(good);
    const v = await runCli(['verify', d, '--key', good.pub]);
    expect(v.code, v.stderr).toBe(0);
    const r = sh(d, ['--key', good.pub]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^OK sigtime .*signature by ${good.fingerprint} valid`, 'm'));
  });
});
