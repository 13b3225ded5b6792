import * as openpgp from 'openpgp';
import { PgpError, messageOf } from './errors.js';

export type Key = openpgp.Key;
export type PublicKey = openpgp.PublicKey;
export type PrivateKey = openpgp.PrivateKey;
export type KeyID = openpgp.KeyID;

/** Reads keys from a key file: ASCII-armoured (any `-----BEGIN PGP ` block) or binary (concatenated packets). */
export async function readKeys(bytes: Uint8Array): Promise<Key[]> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return buf.toString('latin1').includes('-----BEGIN PGP ')
      ? await openpgp.readKeys({ armoredKeys: buf.toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(buf) });
  } catch (err) {
    throw new PgpError('not-keys', messageOf(err), { cause: err });
  }
}

/** The public part of each key (a secret key file serves for checking through its public part). */
export function publicKeys(keys: readonly Key[]): PublicKey[] {
  return keys.map((k) => (k.isPrivate() ? k.toPublic() : k));
}

/** Primary key fingerprint, upper-case hex: how every message of ours names a key. */
export function fingerprint(key: Key): string {
  return key.getFingerprint().toUpperCase();
}

/** A fingerprint as written by people (spaces, any case) in our spelling. */
export function normFingerprint(f: string): string {
  return f.replace(/\s+/g, '').toUpperCase();
}

/** Keys whose primary fingerprint (or a subkey's) is among `fingerprints`. */
export function keysWithFingerprints(keys: readonly PublicKey[], fingerprints: readonly string[]): PublicKey[] {
  const want = new Set(fingerprints.map(normFingerprint));
  return keys.filter((key) => want.has(normFingerprint(key.getFingerprint())) || key.subkeys.some((s) => want.has(normFingerprint(s.getFingerprint()))));
}

/** The key among `keys` that a signature's issuer (a fingerprint or key id, upper-case hex) names. */
export function keyNamed(keys: readonly PublicKey[], issuer: string): PublicKey | undefined {
  return keys.find((k) => k.getKeys().some((s) => s.getFingerprint().toUpperCase() === issuer || s.getKeyID().toHex().toUpperCase() === issuer));
}

/** The keys as one binary keyring (what apt's signed-by and gpgv read: concatenated transferable public keys). */
export function binaryKeyring(keys: readonly PublicKey[]): Uint8Array {
  return Buffer.concat(keys.map((k) => k.toPublic().write()));
}
