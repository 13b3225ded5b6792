import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { UsageError, errnoCode } from '../util/errors.js';

/**
 * The box's trust policy, decided once at imaging time as apt's /etc/apt/keyrings and signed-by are: a folder
 * (default /etc/vault-ai/trust, $VAULT_BUNDLE_TRUST_DIR for tests and unusual images) holding the release keys
 * (*.asc armoured, *.gpg binary) and policy.yaml (`require-signature: true` refuses an unsigned bundle).
 * verify, install (rollback included) and the carried ./verify honour it without flags; --key overrides it.
 */
export const DEFAULT_TRUST_DIR = '/etc/vault-ai/trust';

export interface BoxTrustPolicy {
  /** The folder it was read from. */
  root: string;
  /** The release key files, sorted by name. */
  keyFiles: string[];
  /** policy.yaml's require-signature (false when policy.yaml is absent). */
  requireSignature: boolean;
}

export function trustDir(): string {
  return process.env.VAULT_BUNDLE_TRUST_DIR || DEFAULT_TRUST_DIR;
}

function policyError(message: string, root: string): UsageError {
  return new UsageError({
    code: 'TRUST_POLICY',
    message,
    subject: root,
    hint: `fix the box's trust policy in ${root}: release keys as *.asc or *.gpg, and policy.yaml with "require-signature: true" (or false)`,
  });
}

/** The policy in `root`, or undefined when the folder does not exist (no policy: a box as shipped). */
export async function loadTrustPolicy(root = trustDir()): Promise<BoxTrustPolicy | undefined> {
  let names: string[];
  try {
    if (!(await stat(root)).isDirectory()) throw policyError(`${root} is not a folder`, root);
    names = await readdir(root);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (err instanceof UsageError) throw err;
    throw policyError(`cannot read the trust policy folder ${root}: ${errnoCode(err) ?? String(err)}`, root);
  }
  const keyFiles = names
    .filter((n) => /\.(asc|gpg)$/.test(n))
    .sort()
    .map((n) => join(root, n));
  let requireSignature = false;
  if (names.includes('policy.yaml')) {
    let data: unknown;
    try {
      data = parse(await readFile(join(root, 'policy.yaml'), 'utf8'));
    } catch (err) {
      throw policyError(`${join(root, 'policy.yaml')}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, root);
    }
    const req = data && typeof data === 'object' ? (data as Record<string, unknown>)['require-signature'] : undefined;
    if (data !== null && (typeof data !== 'object' || (req !== undefined && typeof req !== 'boolean'))) {
      throw policyError(`${join(root, 'policy.yaml')}: require-signature must be true or false`, root);
    }
    requireSignature = req === true;
  }
  if (requireSignature && keyFiles.length === 0) {
    throw policyError(`${join(root, 'policy.yaml')} requires a signature, but ${root} holds no release key (*.asc, *.gpg): nothing could be installed`, root);
  }
  return { root, keyFiles, requireSignature };
}
