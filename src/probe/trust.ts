import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as openpgp from 'openpgp';
import { loadTrustPolicy, trustDir } from '../state/trust-policy.js';
import { type BoxProbe, absentFact } from '../box/probe.js';

/** The box trust policy as the probe reports it: where, whether a signature is required, each key's fingerprints. */
export async function trustFact(root = trustDir()): Promise<NonNullable<BoxProbe['trust']>> {
  let policy: Awaited<ReturnType<typeof loadTrustPolicy>>;
  try {
    policy = await loadTrustPolicy(root);
  } catch (err) {
    return absentFact(err instanceof Error ? err.message : String(err));
  }
  if (!policy) return absentFact(`no trust policy: ${root} does not exist (install warns about unsigned bundles)`);
  const keys = await Promise.all(policy.keyFiles.map(async (file) => ({ file: basename(file), fingerprints: await fingerprints(file) })));
  return { present: true, root: policy.root, requireSignature: policy.requireSignature, keys };
}

async function fingerprints(file: string): Promise<string[]> {
  try {
    const bytes = await readFile(file);
    const text = bytes.toString('latin1');
    const keys = text.includes('-----BEGIN PGP') ? await openpgp.readKeys({ armoredKeys: text }) : await openpgp.readKeys({ binaryKeys: bytes });
    return keys.map((k) => k.getFingerprint().toUpperCase());
  } catch {
    return [];
  }
}
