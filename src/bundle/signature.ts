import { readFile } from 'node:fs/promises';
import { PgpError, type RefusalReason } from '../pgp/errors.js';
import { type Key, type PrivateKey, type PublicKey, fingerprint as fpr, keyNamed, publicKeys, readKeys } from '../pgp/keys.js';
import { checkCanSign, clearsign as pgpClearsign, signDetached as pgpSignDetached, unlockKey } from '../pgp/sign.js';
import { type Signature, issuers, readSignature, verifyDetached } from '../pgp/verify.js';
import { UsageError } from '../util/errors.js';
import { SUMS, SUMS_SIG } from './layout.js';

/**
 * OpenPGP for the bundle's root of trust: a detached, armoured signature of SHA256SUMS (SHA256SUMS.asc) that
 * `gpg --verify SHA256SUMS.asc SHA256SUMS` checks with nothing of ours, and the clearsigned InRelease of the
 * flat apt repository the box lays out. The secret key never reaches the box: everything signed is signed here.
 */

/** What verify found about SHA256SUMS.asc. `unchecked`: there is a signature but no key was given. */
export interface SignatureStatus {
  status: 'valid' | 'invalid' | 'unsigned' | 'unchecked';
  /** Primary key fingerprint (upper-case hex) of the signer: the one that verified, or the one the signature names. */
  signer?: string;
  /** The fingerprints of the keys it was checked against (verify --key). */
  expected?: string[];
  /** Why it is invalid. */
  reason?: string;
  /** Set when the signature's bytes verify but the time policy (src/pgp/policy.ts) refuses it: key expired or revoked, etc. */
  refused?: RefusalReason;
}

export interface SigningKey {
  key: PrivateKey;
  fingerprint: string;
  file: string;
}

async function readKeyFile(file: string, what: string): Promise<Key[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `cannot read the ${what} ${file} (${(err as Error).message})`,
      subject: file,
      hint: 'give the key file exported with gpg --export (public) or gpg --export-secret-keys (secret), armoured or binary',
    });
  }
  try {
    return await readKeys(bytes);
  } catch (err) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `${file} is not an OpenPGP key (${(err as Error).message})`,
      subject: file,
      hint: 'give the key file exported with gpg --export (public) or gpg --export-secret-keys (secret), armoured or binary',
    });
  }
}

/** The secret key that signs (`sign --key`, `build --sign-key`); a protected one is unlocked with the passphrase. */
export async function readSigningKey(file: string, passphrase?: string): Promise<SigningKey> {
  const keys = await readKeyFile(file, 'secret key');
  const secret = keys.filter((k): k is PrivateKey => k.isPrivate());
  if (secret.length === 0) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `${file} holds only a public key (${keys.map(fpr).join(', ')}); signing needs the secret key`,
      subject: file,
      hint: 'export it with gpg --export-secret-keys --armor <fingerprint>; the public key is what the box checks with (verify --key)',
    });
  }
  if (secret.length > 1) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `${file} holds ${secret.length} secret keys (${secret.map(fpr).join(', ')}); give a file with the one that signs`,
      subject: file,
    });
  }
  let key = secret[0]!;
  if (!key.isDecrypted()) {
    if (passphrase === undefined) {
      throw new UsageError({
        code: 'BAD_KEY',
        message: `the secret key ${fpr(key)} in ${file} is protected by a passphrase`,
        subject: file,
        hint: 'give the passphrase with --passphrase-file <file> (its first line)',
      });
    }
    try {
      key = await unlockKey(key, passphrase);
    } catch (err) {
      throw new UsageError({
        code: 'BAD_KEY',
        message: `cannot unlock the secret key ${fpr(key)} in ${file} (${(err as Error).message})`,
        subject: file,
        hint: 'check the passphrase file',
      });
    }
  }
  try {
    await checkCanSign(key, new Date());
  } catch (err) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `the key ${fpr(key)} in ${file} cannot sign now (${(err as Error).message})`,
      subject: file,
      hint: 'use a key (or subkey) with the sign capability that is neither expired nor revoked',
    });
  }
  return { key, fingerprint: fpr(key), file };
}

/** The keys as one binary keyring, for install's apt signed-by. */
export { binaryKeyring } from '../pgp/keys.js';

/** The public key(s) the signature is checked against (`verify --key`); a secret key file serves through its public part. */
export async function readVerifyKeys(file: string): Promise<PublicKey[]> {
  return publicKeys(await readKeyFile(file, 'public key'));
}

/** SHA256SUMS.asc: an armoured detached signature of the exact bytes (a binary-document signature, as gpg -b makes). */
export async function signDetached(data: Uint8Array, k: SigningKey, date: Date): Promise<string> {
  return await pgpSignDetached(data, k.key, date);
}

/** An InRelease: the Release text clearsigned (RFC 9580 §7), which apt checks against signed-by. */
export async function clearsign(text: string, k: SigningKey, date: Date): Promise<string> {
  return await pgpClearsign(text, k.key, date);
}

/**
 * Checks SHA256SUMS.asc against SHA256SUMS with the given keys. Invalid names what it found: a signature by
 * another key (re-signed), or by the expected key over other bytes (SHA256SUMS changed after signing).
 */
export async function checkDetached(data: Uint8Array, armored: Uint8Array, keys: readonly PublicKey[], now: Date): Promise<SignatureStatus> {
  const expected = keys.map(fpr);
  let signature: Signature;
  try {
    signature = await readSignature(armored);
  } catch (err) {
    return { status: 'invalid', expected, reason: `${SUMS_SIG} is not an OpenPGP signature (${(err as Error).message})` };
  }
  const named = issuers(signature);
  const mine = named.map((id) => keyNamed(keys, id)).find((k) => k !== undefined);
  if (!mine) {
    return {
      status: 'invalid',
      expected,
      ...(named[0] ? { signer: named[0] } : {}),
      reason: `${SUMS_SIG} is signed by ${named.join(', ') || 'an unnamed key'}, not by ${expected.join(', ')}`,
    };
  }
  try {
    return { status: 'valid', signer: (await verifyDetached(data, signature, keys, now)).signer, expected };
  } catch (err) {
    if (err instanceof PgpError && err.refusal) {
      return { status: 'invalid', signer: err.refusal.key, expected, refused: err.refusal.reason, reason: `${SUMS_SIG}: ${err.message}` };
    }
    if (err instanceof PgpError && err.failure === 'not-accepted') {
      return { status: 'invalid', signer: fpr(mine), expected, reason: `${SUMS} does not match its signature by ${fpr(mine)} (changed after it was signed)` };
    }
    return { status: 'invalid', signer: fpr(mine), expected, reason: `${SUMS_SIG}: ${(err as Error).message}` };
  }
}
