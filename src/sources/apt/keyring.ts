import { readFile } from 'node:fs/promises';
import { type PublicKey, keysWithFingerprints, publicKeys, readKeys } from '../../pgp/keys.js';
import { ManifestError } from '../../util/errors.js';

/** Folders where apt keeps keyrings; a `signed-by` fingerprint is looked up in these. */
export const SYSTEM_KEYRING_DIRS = ['/etc/apt/keyrings', '/etc/apt/trusted.gpg.d', '/usr/share/keyrings'];

export interface Keyring {
  /** Human description for errors: the file(s) or fingerprints. */
  label: string;
  keys: PublicKey[];
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
    return { label: path, keys: publicKeys(await readKeys(bytes)) };
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
  return { label: `${fingerprints.join(', ')} from ${k.label}`, keys: keysWithFingerprints(k.keys, fingerprints) };
}
