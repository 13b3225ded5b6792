import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { ManifestError } from '../../util/errors.js';

/** Folders where apt keeps keyrings; a `signed-by` fingerprint is looked up in these. */
export const SYSTEM_KEYRING_DIRS = ['/etc/apt/keyrings', '/etc/apt/trusted.gpg.d', '/usr/share/keyrings'];

export interface Keyring {
  /** Human description for errors: the file(s) or fingerprints. */
  label: string;
  keys: openpgp.PublicKey[];
}

/** Reads a keyring file: binary (`.gpg`, concatenated keys) or ASCII-armoured (`.asc`). */
export async function readKeyring(path: string): Promise<Keyring> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `cannot read keyring ${path} (${(err as Error).message})`,
      subject: path,
      hint: 'check the "signed-by" path in the manifest (relative to the manifest file)',
    });
  }
  try {
    const text = bytes.toString('latin1');
    const keys = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')
      ? await openpgp.readKeys({ armoredKeys: bytes.toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
    return { label: path, keys };
  } catch (err) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${path} is not an OpenPGP keyring (${(err as Error).message})`,
      subject: path,
      hint: 'give the repository signing key as a .gpg (binary) or .asc (armoured) file',
    });
  }
}

/** Keeps only keys whose primary fingerprint (or a subkey's) is among `fingerprints` (upper-case hex, no spaces). */
export function restrictKeyring(k: Keyring, fingerprints: readonly string[]): Keyring {
  const want = new Set(fingerprints.map(normFpr));
  const keys = k.keys.filter(
    (key) => want.has(normFpr(key.getFingerprint())) || key.subkeys.some((s) => want.has(normFpr(s.getFingerprint()))),
  );
  return { label: `${fingerprints.join(', ')} from ${k.label}`, keys };
}

export function normFpr(f: string): string {
  return f.replace(/\s+/g, '').toUpperCase();
}

/** The primary key fingerprint that owns `keyID` (a signature names the signing subkey's id). */
export function signerFingerprint(k: Keyring, keyID: openpgp.KeyID): string | undefined {
  for (const key of k.keys) {
    if (key.getKeys(keyID).length > 0) return key.getFingerprint().toUpperCase();
  }
  return undefined;
}
