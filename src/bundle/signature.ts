import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { IntegrityError, UsageError } from '../util/errors.js';
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
}

/** Signatures made here: no random salt notation (openpgp.js adds one by default), so equal inputs sign equally. */
const SIGN_CONFIG: openpgp.PartialConfig = { nonDeterministicSignaturesViaNotation: false };

export interface SigningKey {
  key: openpgp.PrivateKey;
  fingerprint: string;
  file: string;
}

async function readKeyFile(file: string, what: string): Promise<openpgp.Key[]> {
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
    return bytes.toString('latin1').includes('-----BEGIN PGP ')
      ? await openpgp.readKeys({ armoredKeys: bytes.toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
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
  const secret = keys.filter((k): k is openpgp.PrivateKey => k.isPrivate());
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
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
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
    await key.getSigningKey(undefined, new Date(), undefined, openpgp.config);
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

/** The public key(s) the signature is checked against (`verify --key`); a secret key file serves through its public part. */
export async function readVerifyKeys(file: string): Promise<openpgp.PublicKey[]> {
  return (await readKeyFile(file, 'public key')).map((k) => (k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey)));
}

/** The keys as one binary keyring (what apt's signed-by reads best: concatenated transferable public keys). */
export function binaryKeyring(keys: readonly openpgp.PublicKey[]): Uint8Array {
  return Buffer.concat(keys.map((k) => k.toPublic().write()));
}

export function fpr(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}

/** SHA256SUMS.asc: an armoured detached signature of the exact bytes (a binary-document signature, as gpg -b makes). */
export async function signDetached(data: Uint8Array, k: SigningKey, date: Date): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return await openpgp.sign({ message, signingKeys: k.key, detached: true, format: 'armored', date, config: SIGN_CONFIG });
}

/** An InRelease: the Release text clearsigned (RFC 9580 §7), which apt checks against signed-by. */
export async function clearsign(text: string, k: SigningKey, date: Date): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return await openpgp.sign({ message, signingKeys: k.key, date, config: SIGN_CONFIG });
}

/**
 * Checks SHA256SUMS.asc against SHA256SUMS with the given keys. Invalid names what it found: a signature by
 * another key (re-signed), or by the expected key over other bytes (SHA256SUMS changed after signing).
 */
export async function checkDetached(
  data: Uint8Array,
  armored: Uint8Array,
  keys: readonly openpgp.PublicKey[],
  now: Date,
): Promise<SignatureStatus> {
  const expected = keys.map(fpr);
  let signature: openpgp.Signature;
  try {
    const text = Buffer.from(armored).toString('latin1');
    signature = text.includes('-----BEGIN PGP SIGNATURE-----')
      ? await openpgp.readSignature({ armoredSignature: Buffer.from(armored).toString('utf8') })
      : await openpgp.readSignature({ binarySignature: armored });
  } catch (err) {
    return { status: 'invalid', expected, reason: `${SUMS_SIG} is not an OpenPGP signature (${(err as Error).message})` };
  }
  const named = issuers(signature);
  const ours = (id: string) => keys.find((k) => k.getKeys().some((s) => s.getFingerprint().toUpperCase() === id || s.getKeyID().toHex().toUpperCase() === id));
  const mine = named.map(ours).find((k) => k !== undefined);
  if (!mine) {
    return {
      status: 'invalid',
      expected,
      ...(named[0] ? { signer: named[0] } : {}),
      reason: `${SUMS_SIG} is signed by ${named.join(', ') || 'an unnamed key'}, not by ${expected.join(', ')}`,
    };
  }
  try {
    const message = await openpgp.createMessage({ binary: data });
    const res = await openpgp.verify({ message, signature, verificationKeys: [...keys], format: 'binary', date: now });
    for (const s of res.signatures) {
      try {
        await s.verified;
        const k = keys.find((key) => key.getKeys(s.keyID).length > 0);
        return { status: 'valid', signer: k ? fpr(k) : s.keyID.toHex().toUpperCase(), expected };
      } catch {
        // the next signature may be good
      }
    }
    return {
      status: 'invalid',
      signer: fpr(mine),
      expected,
      reason: `${SUMS} does not match its signature by ${fpr(mine)} (changed after it was signed)`,
    };
  } catch (err) {
    return { status: 'invalid', signer: fpr(mine), expected, reason: `${SUMS_SIG}: ${(err as Error).message}` };
  }
}

/** The issuers a signature names: fingerprints (issuer fingerprint subpacket) when present, else key IDs. */
function issuers(sig: openpgp.Signature): string[] {
  const out: string[] = [];
  for (const p of sig.packets) {
    if (p.issuerFingerprint) out.push(Buffer.from(p.issuerFingerprint).toString('hex').toUpperCase());
    else if (p.issuerKeyID) out.push(p.issuerKeyID.toHex().toUpperCase());
  }
  return out;
}

/** One error for a signature that failed, naming the signer found and the one expected. */
export function signatureError(s: SignatureStatus, bundle: string): IntegrityError {
  if (s.status === 'unsigned') {
    return new IntegrityError({
      code: 'UNSIGNED',
      message: `${bundle}: not signed (no ${SUMS_SIG}), and a signature is required`,
      subject: SUMS_SIG,
      hint: 'get the signed bundle from the release engineer (vault-bundle sign <bundle> --key <secret key>)',
    });
  }
  return new IntegrityError({
    code: 'SIGNATURE_INVALID',
    message: `${bundle}: ${s.reason ?? 'the signature does not verify'}`,
    subject: SUMS_SIG,
    ...(s.signer ? { found: s.signer } : {}),
    ...(s.expected ? { expected: s.expected.join(', ') } : {}),
    hint: 'do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again',
  });
}
