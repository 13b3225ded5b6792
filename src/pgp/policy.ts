import type { KeyID } from 'openpgp';
import { PgpError, messageOf } from './errors.js';
import { type Key, ownerOf } from './keys.js';

/**
 * The one place that decides whether a signature is acceptable at time `at`. Every verification of this module
 * runs with `verifyDate(at)` and ends here: today a signature is accepted when openpgp.js verified it against
 * one of the given keys as of `at` (RFC 9580 5.2: the signing key and its binding signatures valid at that
 * time, not expired, not revoked as openpgp.js reads them). Stricter rules (key expiry and revocation stated
 * by us, not-yet-valid signature creation times) belong in this file and nowhere else.
 */
export function verifyDate(at: Date): { date: Date } {
  return { date: at };
}

/** The signer (primary fingerprint, else the key id named) of the first acceptable signature; else PgpError. */
export async function acceptedSigner(sigs: readonly { keyID: KeyID; verified: Promise<true> }[], keys: readonly Key[], _at: Date): Promise<string> {
  let first: unknown;
  for (const s of sigs) {
    try {
      await s.verified;
      return ownerOf(keys, s.keyID) ?? s.keyID.toHex().toUpperCase();
    } catch (err) {
      first ??= err; // another signature may be by a key we hold
    }
  }
  throw new PgpError('not-accepted', first === undefined ? 'no valid signature' : messageOf(first), { cause: first });
}
