import semver from 'semver';
import type { BundleIndex } from './index.js';
import type { SignatureStatus } from './signature.js';
import type { VerifyReport } from './verify.js';
import { isInstalled, readJournal } from '../state/journal.js';
import { IntegrityError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';

/**
 * Whether to trust a bundle, beyond its bytes being intact (verify's part): a signature of SHA256SUMS by the
 * release key when one is given, not past its expiry, and not older than what this box already installed.
 * Install and report (and inspect's EXPIRED) take their answers from here. The OpenPGP code is loaded only
 * when a key is used: openpgp is large.
 */

/** The trust problems verify reports: each gets its own error code, since the remedy differs from a damaged copy. */
export const TRUST_PROBLEMS = ['SIGNATURE_INVALID', 'SIGNATURE_REFUSED', 'UNSIGNED', 'EXPIRED'] as const;
export type TrustProblem = (typeof TRUST_PROBLEMS)[number];

const TRUST_HINTS: Record<TrustProblem, string> = {
  SIGNATURE_INVALID: 'do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again',
  SIGNATURE_REFUSED:
    "the release key signed it, but that key has expired or was revoked (or the signature is impossibly dated, see above): ask the release engineer to sign the bundle again with a current key (vault-bundle sign <bundle> --key <secret key>); if the key's expiry was extended, bring the updated public key to this box (--key, or the trust policy folder)",
  UNSIGNED: 'get the signed bundle from the release engineer (vault-bundle sign <bundle> --key <secret key>)',
  EXPIRED: 'ask the release engineer for a current bundle; to install this one knowingly, add --allow-expired',
};

/** A failed signature or expiry as its own error (SIGNATURE_INVALID, UNSIGNED, EXPIRED); undefined when the report has none. */
export function trustError(v: VerifyReport): IntegrityError | undefined {
  const p = v.problems.find((x) => (TRUST_PROBLEMS as readonly string[]).includes(x.code));
  if (!p) return undefined;
  const code = p.code as TrustProblem;
  return new IntegrityError({
    code,
    message: `${v.bundle}: ${p.message}`,
    subject: p.path,
    hint: TRUST_HINTS[code],
    ...(p.expected ? { expected: p.expected } : {}),
    ...(p.found ? { found: p.found } : {}),
  });
}

/** Whether SHA256SUMS.asc (`signature`) is a signature of exactly these SHA256SUMS bytes by a key in `keyFile`. */
export async function sumsSignature(sums: Uint8Array, signature: Uint8Array, keyFile: string, now: Date): Promise<SignatureStatus> {
  const { checkDetached, readVerifyKeys } = await import('./signature.js');
  return checkDetached(sums, signature, await readVerifyKeys(keyFile), now);
}

/** Whether a bundle whose bundle.json says `expires` has expired at `now` (at that very instant it has). */
export function isExpired(expires: string, now: Date): boolean {
  return Date.parse(expires) <= now.getTime();
}

/** The public key(s) as one binary keyring at `to`: what apt's signed-by reads in every version. */
export async function writeKeyring(keyFiles: string | readonly string[], to: string): Promise<string> {
  const { binaryKeyring, readVerifyKeys } = await import('./signature.js');
  const files = typeof keyFiles === 'string' ? [keyFiles] : keyFiles;
  await writeFileAtomic(to, binaryKeyring((await Promise.all(files.map((f) => readVerifyKeys(f)))).flat()));
  return to;
}

/**
 * Rollback protection: the highest version of this bundle name that this box installed (real installs in the
 * journal) must not be newer than the one offered. The same version again is fine (install is idempotent).
 */
export async function refuseDowngrade(journal: string, index: BundleIndex): Promise<void> {
  const installed = (await readJournal(journal))
    .filter((e) => isInstalled(e) && e.bundle.name === index.name && isSemver(e.bundle.version))
    .map((e) => e.bundle.version)
    .sort(compareSemver)
    .at(-1);
  if (installed && isSemver(index.version) && compareSemver(index.version, installed) < 0) {
    throw new IntegrityError({
      code: 'DOWNGRADE',
      message: `${index.name} ${index.version} is older than ${index.name} ${installed}, which this box has installed (journal ${journal})`,
      subject: index.name,
      expected: `>= ${installed}`,
      found: index.version,
      hint: 'install the current bundle; to roll back on purpose, add --allow-downgrade',
    });
  }
}

/** A SemVer 2.0.0 version (an optional leading v; no surrounding space, which the semver package would trim). */
export function isSemver(v: string): boolean {
  return v === v.trim() && semver.valid(v) !== null;
}

/** SemVer 2.0.0 §11 precedence (build metadata ignored): negative when a < b. Versions that do not parse compare as equal. */
export function compareSemver(a: string, b: string): number {
  return isSemver(a) && isSemver(b) ? semver.compare(a, b) : 0;
}
