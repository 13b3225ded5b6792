import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKey, type SigningKey } from './helpers/apt-repo.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { gpgExport } from './helpers/gpg.js';

/** Issue #14 class 8: the box trust policy (/etc/vault-ai/trust/, here $VAULT_BUNDLE_TRUST_DIR) judges bundles with no flag. */
let work: string;
let rel: SigningKey;
let other: SigningKey;
const b = { signed: '', unsigned: '', otherSigned: '' };

async function policy(name: string, o: { keys: string[]; require?: boolean }): Promise<string> {
  const d = join(work, name);
  await mkdir(d);
  for (const [i, k] of o.keys.entries()) execFileSync('cp', [k, join(d, `release-${i}.asc`)]);
  if (o.require !== undefined) await writeFile(join(d, 'policy.yaml'), `require-signature: ${o.require}\n`);
  return d;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-trust-'));
  rel = await makeKey(work, 'Release');
  other = await makeKey(work, 'Other');
  const relSec = gpgExport(rel, true, join(work, 'rel.sec.asc'));
  const otherSec = gpgExport(other, true, join(work, 'other.sec.asc'));
  gpgExport(rel, false, join(work, 'rel.asc'));
  const { manifest } = await fileManifest(work, { name: 'trust', sizes: [100] });
  const build = async (out: string, key?: string) => {
    const r = await runCli([
      '-q',
      '--cache-dir',
      join(work, 'cache'),
      'build',
      manifest,
      '--out',
      out,
      '--runtime',
      'host',
      ...(key ? ['--sign-key', key] : []),
    ]);
    expect(r.code, r.stderr).toBe(0);
    return out;
  };
  b.signed = await build(join(work, 'signed'), relSec);
  b.unsigned = await build(join(work, 'unsigned'));
  b.otherSigned = await build(join(work, 'other-signed'), otherSec);
}, 240_000);
afterAll(() => rm(work, { recursive: true, force: true }));

describe('a box with require-signature: true', () => {
  it('verify and install refuse an unsigned or wrongly signed bundle with no flag given; the signed one passes', async () => {
    const dir = await policy('strict', { keys: [join(work, 'rel.asc')], require: true });
    const env = { VAULT_BUNDLE_TRUST_DIR: dir };
    const uns = await runCli(['verify', b.unsigned], { env });
    expect(uns.code).toBe(4);
    expect(uns.stderr).toContain(`UNSIGNED: SHA256SUMS.asc: missing; the bundle is not signed, and the box trust policy (${dir}) requires a signature`);
    const wrong = await runCli(['verify', b.otherSigned], { env });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/^SIGNATURE_INVALID: /m);
    const ok = await runCli(['--json', 'verify', b.signed], { env });
    expect(ok.code).toBe(0);
    const rep = JSON.parse(ok.stdout) as { signature: { status: string }; policy: { root: string; requireSignature: boolean; keys: string[] } };
    expect(rep.signature.status).toBe('valid');
    expect(rep.policy).toEqual({ root: dir, requireSignature: true, keys: [rel.fingerprint.toUpperCase()] });
    for (const bad of [b.unsigned, b.otherSigned]) {
      const i = await runCli(['install', bad, '--dry-run', '--ignore-target', '--state-dir', join(work, 'state')], { env });
      expect(i.code).toBe(4);
    }
  });

  it('the carried sh ./verify honours it too (gpgv with the policy keys), before anything from runtime/ runs', async () => {
    const dir = await policy('strict-sh', { keys: [join(work, 'rel.asc')], require: true });
    const sh = (bundle: string) => spawnSync('sh', [join(bundle, 'verify')], { env: { PATH: '/usr/bin:/bin', VAULT_BUNDLE_TRUST_DIR: dir }, encoding: 'utf8' });
    const uns = sh(b.unsigned);
    expect(uns.status).toBe(4);
    expect(uns.stderr).toContain(`UNSIGNED: SHA256SUMS.asc: missing; the bundle is not signed, and the box trust policy (${dir}) requires a signature`);
    const wrong = sh(b.otherSigned);
    expect(wrong.status).toBe(4);
    expect(wrong.stderr).toContain(`SIGNATURE_INVALID: SHA256SUMS.asc does not verify against the box trust policy (${dir})`);
    const ok = sh(b.signed);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^OK trust 1\.0\.0/m);
  });

  it('a policy that requires a signature but holds no key is a clear TRUST_POLICY error', async () => {
    const dir = await policy('nokeys', { keys: [], require: true });
    const r = await runCli(['verify', b.signed], { env: { VAULT_BUNDLE_TRUST_DIR: dir } });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('holds no release key');
  });

  it('probe reports the policy: where, require-signature, the keys and their fingerprints', async () => {
    const dir = await policy('probed', { keys: [join(work, 'rel.asc')], require: true });
    const out = join(work, 'box.json');
    const r = await runCli(['probe', '--out', out, '--state-dir', join(work, 'state')], { env: { VAULT_BUNDLE_TRUST_DIR: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`trust    ${dir}: require-signature true; keys release-0.asc (${rel.fingerprint.toUpperCase()})`);
  });
});

describe('a box with no policy', () => {
  it('an unsigned install prints one clear warning (integrity checked, origin not)', async () => {
    const env = { VAULT_BUNDLE_TRUST_DIR: join(work, 'none') };
    const i = await runCli(['install', b.unsigned, '--dry-run', '--ignore-target', '--state-dir', join(work, 'state')], { env });
    expect(i.code, i.stderr).toBe(0);
    expect(i.stderr.match(/its integrity was checked \(every file against SHA256SUMS\), its origin was not/g)).toHaveLength(1);
    const v = await runCli(['verify', b.unsigned], { env });
    expect(v.code).toBe(0);
  });
});
