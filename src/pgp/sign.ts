import * as openpgp from 'openpgp';
import { PgpError, messageOf } from './errors.js';
import type { PrivateKey } from './keys.js';

/** Signatures made here: no random salt notation (openpgp.js adds one by default), so equal inputs sign equally. */
const SIGN_CONFIG: openpgp.PartialConfig = { nonDeterministicSignaturesViaNotation: false };

/** A protected secret key unlocked with its passphrase; PgpError when the passphrase does not open it. */
export async function unlockKey(key: PrivateKey, passphrase: string): Promise<PrivateKey> {
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (err) {
    throw new PgpError('not-keys', messageOf(err), { cause: err });
  }
}

/** Whether the key (or a subkey) can sign at `at`: neither expired nor revoked and with the sign capability. */
export async function checkCanSign(key: PrivateKey, at: Date): Promise<void> {
  try {
    await key.getSigningKey(undefined, at, undefined, openpgp.config);
  } catch (err) {
    throw new PgpError('not-keys', messageOf(err), { cause: err });
  }
}

/** An armoured detached signature of the exact bytes (a binary-document signature, as gpg -b makes). */
export async function signDetached(data: Uint8Array, key: PrivateKey, date: Date): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- openpgp's types name @openpgp/web-stream-tools (an optional peer, not installed), so its stream types don't resolve; a Uint8Array message gives a string
  return await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored', date, config: SIGN_CONFIG });
}

/** The text clearsigned (RFC 9580 7), as an InRelease is. */
export async function clearsign(text: string, key: PrivateKey, date: Date): Promise<string> {
  const message = await openpgp.createCleartextMessage({ text });
  return await openpgp.sign({ message, signingKeys: key, date, config: SIGN_CONFIG });
}
