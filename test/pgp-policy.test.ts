import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgpError } from '../src/pgp/errors.js';
import { publicKeys, readKeys } from '../src/pgp/keys.js';
import { readSignature, verifyDetached } from '../src/pgp/verify.js';
import { detachSign, exportKey, gpg, gpgv, makeTimedKey, revokeKey, type TimedKey } from './helpers/pgp-time.js';

/**
 * src/pgp/policy.ts against real gpg-made keys and signatures, with gpgv's verdict beside ours: gpgv exits 0 for a
 * good signature by an expired (EXPKEYSIG) or revoked (REVKEYSIG) key; apt refuses both, and so do we.
 */
let work: string;
let data: string;
const Y2020 = new Date('2020-01-01T00:00:00Z');
const JUNE2020 = new Date('2020-06-01T00:00:00Z');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-pgp-policy-'));
  data = join(work, 'SHA256SUMS');
  await writeFile(data, `${'a'.repeat(64)}  bundle.json\n`);
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function ours(k: TimedKey, sig: string, at = new Date()): Promise<string | PgpError> {
  const keys = publicKeys(await readKeys(await readFile(k.pub)));
  try {
    return (await verifyDetached(await readFile(data), await readSignature(await readFile(sig)), keys, at)).signer;
  } catch (err) {
    if (err instanceof PgpError) return err;
    throw err;
  }
}

describe('the time policy of a detached signature (SHA256SUMS.asc), against gpgv', () => {
  it('a key that expired after signing: gpgv says EXPKEYSIG but exits 0; refused, naming the key and when it expired', async () => {
    const k = await makeTimedKey(work, 'Expired', { created: Y2020, expire: '1y' });
    const sig = join(work, 'expired.asc');
    detachSign(k, data, sig, { at: JUNE2020 });
    expect(gpgv(k.keyring, sig, data)).toMatchObject({ rc: 0, words: expect.arrayContaining(['EXPKEYSIG', 'KEYEXPIRED']) as unknown });
    const r = await ours(k, sig);
    expect(r).toBeInstanceOf(PgpError);
    const e = r as PgpError;
    expect(e.failure).toBe('refused');
    expect(e.refusal).toMatchObject({ reason: 'key-expired', key: k.fingerprint, signed: JUNE2020 });
    expect(e.refusal!.date.getUTCFullYear()).toBe(2020); // 1y from 2020-01-01 is 2020-12-31 (gpg counts 365 days)
    expect(e.message).toContain(`the signing key ${k.fingerprint} expired on 2020-12-31`);
    // At a time the key was valid, the same signature is accepted: the policy is about the time of the check.
    expect(await ours(k, sig, new Date('2020-07-01T00:00:00Z'))).toBe(k.fingerprint);
    // The owner extends the key's expiry (a new self-signature): with the updated key it is accepted again, as by gpgv.
    gpg(k.home, ['--quick-set-expire', k.fingerprint, '0']);
    exportKey(k);
    expect(gpgv(k.keyring, sig, data).words).toContain('GOODSIG');
    expect(await ours(k, sig)).toBe(k.fingerprint);
  });

  it('a revoked key (the revocation in the key file given): gpgv says REVKEYSIG but exits 0; refused, naming key and date', async () => {
    const k = await makeTimedKey(work, 'Revoked');
    const sig = join(work, 'revoked.asc');
    detachSign(k, data, sig);
    expect(await ours(k, sig)).toBe(k.fingerprint);
    await revokeKey(k);
    expect(gpgv(k.keyring, sig, data)).toMatchObject({ rc: 0, words: expect.arrayContaining(['REVKEYSIG']) as unknown });
    const e = (await ours(k, sig)) as PgpError;
    expect(e.refusal).toMatchObject({ reason: 'key-revoked', key: k.fingerprint });
    expect(e.message).toMatch(new RegExp(`the signing key ${k.fingerprint} was revoked on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ`));
  });

  it('an expired signature (signature expiration subpacket): gpgv EXPSIG, exit 1; refused', async () => {
    const k = await makeTimedKey(work, 'SigExp', { created: Y2020 });
    const sig = join(work, 'sigexp.asc');
    detachSign(k, data, sig, { at: JUNE2020, expire: '1d' });
    expect(gpgv(k.keyring, sig, data)).toMatchObject({ rc: 1, words: expect.arrayContaining(['EXPSIG']) as unknown });
    const e = (await ours(k, sig)) as PgpError;
    expect(e.refusal).toMatchObject({ reason: 'signature-expired', key: k.fingerprint, date: new Date('2020-06-02T00:00:00Z') });
    expect(e.message).toContain('made on 2020-06-01T00:00:00Z, expired on 2020-06-02T00:00:00Z');
  });

  it('a signature dated before its key was created: gpgv "Time conflict" (ERRSIG); refused', async () => {
    const k = await makeTimedKey(work, 'Early', { created: JUNE2020 });
    const sig = join(work, 'early.asc');
    detachSign(k, data, sig, { at: Y2020 });
    expect(gpgv(k.keyring, sig, data)).toMatchObject({ rc: 2, words: expect.arrayContaining(['ERRSIG']) as unknown });
    const e = (await ours(k, sig)) as PgpError;
    expect(e.refusal).toMatchObject({ reason: 'signature-before-key', key: k.fingerprint, signed: Y2020, date: JUNE2020 });
  });

  it('a signature dated after the time of the check is refused; a good one passes both', async () => {
    const k = await makeTimedKey(work, 'Current', { created: Y2020 });
    const sig = join(work, 'current.asc');
    detachSign(k, data, sig, { at: JUNE2020 });
    expect(gpgv(k.keyring, sig, data)).toMatchObject({ rc: 0, words: expect.arrayContaining(['GOODSIG']) as unknown });
    expect(await ours(k, sig)).toBe(k.fingerprint);
    const e = (await ours(k, sig, new Date('2020-05-01T00:00:00Z'))) as PgpError;
    expect(e.refusal).toMatchObject({ reason: 'signature-in-future', key: k.fingerprint, signed: JUNE2020 });
    // Changed bytes stay a bad signature, never a refusal by time.
    await writeFile(join(work, 'other'), 'other bytes\n');
    const keys = publicKeys(await readKeys(await readFile(k.pub)));
    const bad = await verifyDetached(await readFile(join(work, 'other')), await readSignature(await readFile(sig)), keys, new Date()).catch((x: unknown) => x);
    expect(bad).toMatchObject({ failure: 'not-accepted' });
  });
});
