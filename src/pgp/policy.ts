import * as openpgp from 'openpgp';
import { escapeText } from '../util/escape.js';
import { PgpError, type Refusal, messageOf } from './errors.js';
import { type Key, fingerprint } from './keys.js';

/**
 * The one place that decides whether a signature is acceptable at time `at` (the time of the check: now).
 * Every verification of this module runs with `verifyDate(at)` and ends here. A signature is accepted when
 *  1. its bytes verify against one of the given keys (openpgp.js, RFC 9580 5.2.4), and
 *  2. the signing key (primary and signing subkey) holds no revocation in the key file given, whatever its
 *     date or stated reason (gpgv: REVKEYSIG), and
 *  3. it is not dated before the signing key (or subkey) was created (gpgv: "Time conflict"), nor after `at`, and
 *  4. its own expiration time, if it states one, is after `at` (gpgv: EXPSIG), and
 *  5. the signing key (primary and signing subkey) has not expired at `at` (gpgv: EXPKEYSIG), as its latest
 *     self-signature states: a key whose expiry was extended is valid again once the updated key is given.
 * Rule 5 is apt's, not gpgv's exit status: gpgv alone accepts a good signature by a key that was valid when
 * it signed and has expired since (EXPKEYSIG, exit 0); apt counts such a signer as worthless and refuses the
 * file, and so do we, for an upstream InRelease as for the bundle's SHA256SUMS.asc. The signature date is the
 * signer's claim: a key that expired is one whose holder stopped vouching for it, and a backdated signature
 * by a leaked expired key must not pass.
 */
export function verifyDate(at: Date): { date: Date; config: openpgp.PartialConfig } {
  // A key whose expiry was extended after it signed carries only its new self-signature (gpg keeps the latest), dated
  // after the signature: openpgp.js then finds no self-signature valid when it signed and, with this setting, asks
  // whether the key is valid at `at` instead. That is rule 5 (checked again in judge below); gpgv accepts it too.
  return { date: at, config: { allowInsecureVerificationWithReformattedKeys: true } };
}

type VerificationResult = openpgp.VerifyMessageResult<string>['signatures'][number];

/**
 * openpgp.js's words when the bytes do not verify or no given key made the signature: it checks the bytes first,
 * then the times and the key's validity, so any other failure is of a signature whose bytes verified.
 */
const BYTES_FAILED =
  /Signed digest did not match|Signature verification failed|Could not find signing key|not issued by the given public key|does not match issuer key algorithm/;

/** The signer (primary fingerprint) of the first acceptable signature; else PgpError ('refused' when only the time policy failed it). */
export async function acceptedSigner(sigs: readonly VerificationResult[], keys: readonly Key[], at: Date): Promise<string> {
  let first: unknown;
  let refused: PgpError | undefined;
  for (const s of sigs) {
    const owner = keys.find((k) => k.getKeys(s.keyID).length > 0);
    let failed: unknown;
    try {
      await s.verified;
    } catch (err) {
      failed = err; // another signature may be by a key we hold
    }
    if (!owner || (failed !== undefined && BYTES_FAILED.test(messageOf(failed)))) {
      first ??= failed ?? new Error(`no key given for ${s.keyID.toHex().toUpperCase()}`);
      continue;
    }
    const packet = (await s.signature).packets[0];
    const refusal = packet ? await judge(owner, s.keyID, packet, at) : undefined;
    if (refusal) {
      refused ??= new PgpError('refused', describeRefusal(refusal), { refusal });
    } else if (failed !== undefined) {
      first ??= failed;
    } else {
      return fingerprint(owner);
    }
  }
  if (refused) throw refused;
  throw new PgpError('not-accepted', first === undefined ? 'no valid signature' : messageOf(first), { cause: first });
}

/** Rules 2-5 above for a signature whose bytes verified against `owner`; undefined when it is acceptable at `at`. */
export async function judge(owner: Key, keyID: openpgp.KeyID, sig: openpgp.SignaturePacket, at: Date): Promise<Refusal | undefined> {
  const key = fingerprint(owner);
  const signed = sig.created ?? new Date(0);
  const signing = owner.getKeys(keyID)[0] ?? owner;
  const revoked = await revocation(owner, signing, at);
  if (revoked) return { reason: 'key-revoked', key, signed, date: revoked.created ?? signed, ...reasonOf(revoked) };
  const created = new Date(Math.max(owner.getCreationTime().getTime(), signing.getCreationTime().getTime()));
  if (created.getTime() > signed.getTime()) return { reason: 'signature-before-key', key, signed, date: created };
  if (signed.getTime() > at.getTime()) return { reason: 'signature-in-future', key, signed, date: at };
  const sigExpiry = sig.getExpirationTime();
  if (sigExpiry instanceof Date && sigExpiry.getTime() <= at.getTime()) return { reason: 'signature-expired', key, signed, date: sigExpiry };
  const expiry = await keyExpiry(owner, signing, signed);
  if (expiry && expiry.getTime() <= at.getTime()) return { reason: 'key-expired', key, signed, date: expiry };
  return undefined;
}

/** The earliest revocation of the primary key or the signing subkey that openpgp.js verifies, if any. */
async function revocation(owner: Key, signing: Key | openpgp.Subkey, at: Date): Promise<openpgp.SignaturePacket | undefined> {
  const earliest = (sigs: openpgp.SignaturePacket[]) => [...sigs].sort((a, b) => (a.created?.getTime() ?? 0) - (b.created?.getTime() ?? 0))[0];
  if (owner.revocationSignatures.length > 0 && (await owner.isRevoked(undefined, undefined, at))) return earliest(owner.revocationSignatures);
  if (signing instanceof openpgp.Subkey && signing.revocationSignatures.length > 0) {
    // isRevoked's first two arguments narrow to revocations by one issuer; null asks about all (openpgp.js's own default).
    const all = null as unknown as openpgp.SignaturePacket;
    if (await signing.isRevoked(all, null as unknown as openpgp.PublicKeyPacket, at)) return earliest(signing.revocationSignatures);
  }
  return undefined;
}

/** When the primary key or the signing subkey expires (the earlier), from their latest self-signatures; undefined: never. */
async function keyExpiry(owner: Key, signing: Key | openpgp.Subkey, signed: Date): Promise<Date | undefined> {
  const times = [await owner.getExpirationTime()];
  if (signing instanceof openpgp.Subkey) times.push(await signing.getExpirationTime(signed));
  const dates = times.filter((t): t is Date => t instanceof Date);
  return dates.length ? new Date(Math.min(...dates.map((d) => d.getTime()))) : undefined;
}

function reasonOf(sig: openpgp.SignaturePacket): { detail?: string } {
  const text = sig.reasonForRevocationString ? escapeText(sig.reasonForRevocationString).slice(0, 200) : '';
  return text ? { detail: text } : {};
}

/** A time as every message of ours writes it: ISO 8601 UTC, whole seconds. */
export function isoTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One sentence naming the key, the dates and what is wrong (callers add what to do). */
export function describeRefusal(r: Refusal): string {
  const signed = isoTime(r.signed);
  const when = isoTime(r.date);
  switch (r.reason) {
    case 'key-expired':
      return `the signing key ${r.key} expired on ${when} (the signature was made on ${signed}); a key must be valid when it is checked, not only when it signed`;
    case 'key-revoked':
      return `the signing key ${r.key} was revoked on ${when}${r.detail ? ` ("${r.detail}")` : ''} (the signature was made on ${signed})`;
    case 'signature-expired':
      return `the signature by ${r.key}, made on ${signed}, expired on ${when}`;
    case 'signature-before-key':
      return `the signature by ${r.key} is dated ${signed}, before the key was created (${when}): a forged date or a wrong clock where it was signed`;
    case 'signature-in-future':
      return `the signature by ${r.key} is dated ${signed}, later than the time of this check (${when}): a wrong clock here or where it was signed, or a forged date`;
  }
}
