import { SUMS, SUMS_SIG } from '../bundle/layout.js';
import { UsageError, VaultError } from '../util/errors.js';
import { limits } from '../util/limits.js';
import type { LoadedBundle } from '../bundle/load.js';
import { sumsSignature } from '../bundle/trust.js';

/** What the report says about the bundle's OpenPGP signature of SHA256SUMS. */
export interface SignatureStatus {
  /** unsigned: no SHA256SUMS.asc; present: there is one, not checked; valid / invalid: checked with --key. */
  state: 'unsigned' | 'present' | 'valid' | 'invalid';
  text: string;
  signer?: string;
}

/**
 * How `report --key` checks SHA256SUMS.asc: with the code of `verify --key` (src/bundle/trust.ts over
 * src/bundle/signature.ts), so the report and verify can never disagree. Tests pass another function.
 */
export type CheckSignature = (b: LoadedBundle, keyFile: string) => Promise<{ ok: boolean; signer?: string; message?: string }>;

export const checkSignature: CheckSignature = async (b, keyFile) => {
  // The SHA256SUMS bytes bundle.json and the SBOM were checked against at load: the signature must cover
  // exactly those, or "valid" would vouch for a list the report never compared anything with.
  const sums = b.sums.bytes;
  const sig = await b.reader.read(SUMS_SIG, limits.maxIndexBytes);
  const s = await sumsSignature(sums, sig, keyFile, new Date());
  return { ok: s.status === 'valid', ...(s.signer ? { signer: s.signer } : {}), ...(s.reason ? { message: s.reason } : {}) };
};

export async function signatureStatus(b: LoadedBundle, key?: string, hook?: CheckSignature): Promise<SignatureStatus> {
  if (!b.signed) return { state: 'unsigned', text: `unsigned (no SHA256SUMS.asc${key ? '; nothing for --key to check' : ''})` };
  if (!key) return { state: 'present', text: 'signed (SHA256SUMS.asc present; verify with --key)' };
  const check = hook ?? checkSignature;
  try {
    const r = await check(b, key);
    const signer = r.signer ? { signer: r.signer } : {};
    return r.ok
      ? {
          state: 'valid',
          text: `signature valid${r.signer ? `, signed by ${r.signer}` : ''} (key ${key}): it covers ${SUMS}, which ${b.checked.join(' and ')} match (the blobs: verify --key)`,
          ...signer,
        }
      : { state: 'invalid', text: `signature INVALID${r.message ? `: ${r.message}` : ''} (key ${key})`, ...signer };
  } catch (err) {
    // A key file that cannot be read is the user's to fix (exit 64); a signature that fails is the answer.
    if (err instanceof VaultError && !(err instanceof UsageError)) return { state: 'invalid', text: `signature INVALID: ${err.message} (key ${key})` };
    throw err;
  }
}
