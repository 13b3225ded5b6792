import * as openpgp from 'openpgp';
import { PgpError, messageOf } from './errors.js';
import type { PublicKey } from './keys.js';
import { checkClearsignedLayout } from './cleartext.js';
import { acceptedSigner, verifyDate } from './policy.js';

export type Signature = openpgp.Signature;

/** A detached signature: ASCII-armoured (`-----BEGIN PGP SIGNATURE-----`) or binary. */
export async function readSignature(bytes: Uint8Array): Promise<Signature> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return buf.toString('latin1').includes('-----BEGIN PGP SIGNATURE-----')
      ? await openpgp.readSignature({ armoredSignature: buf.toString('utf8') })
      : await openpgp.readSignature({ binarySignature: new Uint8Array(buf) });
  } catch (err) {
    throw new PgpError('not-signature', messageOf(err), { cause: err });
  }
}

/** The issuers a signature names: fingerprints (issuer fingerprint subpacket) when present, else key IDs. */
export function issuers(sig: Signature): string[] {
  const out: string[] = [];
  for (const p of sig.packets) {
    if (p.issuerFingerprint) out.push(Buffer.from(p.issuerFingerprint).toString('hex').toUpperCase());
    else if (p.issuerKeyID) out.push(p.issuerKeyID.toHex().toUpperCase());
  }
  return out;
}

/** Checks a detached signature over the exact bytes (a binary-document signature, as gpg -b makes); the signer. */
export async function verifyDetached(data: Uint8Array, signature: Signature, keys: readonly PublicKey[], at: Date): Promise<{ signer: string }> {
  let res: openpgp.VerifyMessageResult<Uint8Array>;
  try {
    const message = await openpgp.createMessage({ binary: data });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- openpgp's types name @openpgp/web-stream-tools (an optional peer, not installed), so its stream types don't resolve; a Uint8Array message gives a Uint8Array result
    res = await openpgp.verify({ message, signature, verificationKeys: [...keys], format: 'binary', ...verifyDate(at) });
  } catch (err) {
    throw new PgpError('unverifiable', messageOf(err), { cause: err });
  }
  return { signer: await acceptedSigner(res.signatures, keys, at) };
}

/**
 * Checks a clearsigned message (RFC 9580 7, e.g. apt's InRelease): the signed text, and the signer. The file is
 * laid out as apt accepts it (cleartext.ts: no unsigned text around the signed block) before any signature is read.
 */
export async function verifyClearsigned(text: string, keys: readonly PublicKey[], at: Date): Promise<{ text: string; signer: string }> {
  checkClearsignedLayout(text);
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: text });
  } catch (err) {
    throw new PgpError('not-cleartext', messageOf(err), { cause: err });
  }
  let res: openpgp.VerifyMessageResult<string>;
  try {
    res = await openpgp.verify({ message, verificationKeys: [...keys], ...verifyDate(at) });
  } catch (err) {
    throw new PgpError('unverifiable', messageOf(err), { cause: err });
  }
  return { text: String(res.data), signer: await acceptedSigner(res.signatures, keys, at) };
}
