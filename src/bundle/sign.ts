import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type BundleIndex, bundleIndexSchema } from './index.js';
import { INDEX, SUMS, SUMS_SIG } from './layout.js';
import { openBundle } from './reader.js';
import { type SigningKey, clearsign, readSigningKey, signDetached } from './signature.js';
import { type SumEntry, formatSums, parseSums } from './sums.js';
import { verifyBundle, verifyError } from './verify.js';
import { APT_INRELEASE, APT_PACKAGES, APT_RELEASE, packagesIndex, releaseFile } from '../sources/apt/install.js';
import type { Reporter } from '../util/events.js';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { limits } from '../util/limits.js';

export interface SignOptions {
  bundle: string;
  /** Secret key file (gpg --export-secret-keys, armoured or binary). */
  key: string;
  /** A file whose first line is the passphrase of a protected key. */
  passphraseFile?: string;
  /** Signature time (tests pin it); default now. */
  now?: Date;
  report?: Reporter;
}

export interface SignResult {
  bundle: string;
  /** Fingerprint of the primary key that signed. */
  signer: string;
  /** Files written, relative to the bundle (SHA256SUMS.asc last). */
  written: string[];
  /** apt packages listed in the signed apt/InRelease (0: the bundle has none). */
  aptPackages: number;
}

/** `vault-bundle sign`: reads the secret key (and its passphrase), verifies the bundle, then signs it in place. */
export async function signWithKeyFile(o: SignOptions): Promise<SignResult> {
  const key = await readSigningKey(o.key, o.passphraseFile ? await readPassphrase(o.passphraseFile) : undefined);
  return signBundle(resolve(o.bundle), key, { now: o.now ?? new Date(), verify: true, ...(o.report ? { report: o.report } : {}) });
}

/**
 * Signs a bundle folder or split folder in place. The box holds no secret key, so everything that must be
 * signed is made here: when the bundle has apt packages, the flat repository's Packages (the very text install
 * generates from the locked records), its Release and the clearsigned InRelease go into apt/; then SHA256SUMS
 * is rewritten to list them, and SHA256SUMS.asc (a detached signature of SHA256SUMS) is written last. Each file
 * is replaced atomically in that order: an interrupted sign leaves a bundle that `verify --key` refuses, and
 * running sign again completes it. `build --sign-key` calls this very function on the bundle it just wrote, so
 * both ways give the same files.
 */
export async function signBundle(location: string, key: SigningKey, o: { now: Date; verify: boolean; report?: Reporter }): Promise<SignResult> {
  const reader = await openBundle(location);
  if (reader.form === 'tar') {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `${location} is a tar file; a tar cannot be signed in place`,
      subject: location,
      hint: 'sign the bundle folder, then write the tar from it: vault-bundle build <manifest> --media tar --sign-key <key> (or sign the folder and tar it with build --tar)',
    });
  }
  if (!reader.entries.has(INDEX) || !reader.entries.has(SUMS)) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${location}: no ${reader.entries.has(INDEX) ? SUMS : INDEX}; not a vault-bundle bundle`,
      subject: location,
      hint: 'give the folder or split folder written by "vault-bundle build"',
    });
  }
  if (o.verify) {
    // Sign only what verifies (a delta's blobs in its base are not ours to check here: SHA256SUMS does not list them).
    o.report?.({ type: 'phase', phase: 'verify' });
    const v = await verifyBundle(location, { now: o.now });
    // Also not the apt files an interrupted sign left unlisted: this sign writes them again and lists them.
    const rewritten = new Set([APT_PACKAGES, APT_RELEASE, APT_INRELEASE]);
    const problems = v.problems.filter((p) => p.code !== 'BASE_REQUIRED' && !(p.code === 'UNLISTED_FILE' && rewritten.has(p.path)));
    if (problems.length > 0) {
      const err = verifyError({ ...v, problems });
      throw new UsageError({
        code: 'NOT_A_BUNDLE',
        message: `not signing: ${err.message}`,
        subject: err.subject ?? location,
        hint: 'a signature vouches for what it covers: rebuild the bundle (or copy it again) and sign the copy that verifies',
      });
    }
  }
  o.report?.({ type: 'phase', phase: 'sign', detail: key.fingerprint });
  const index = bundleIndexSchema.parse(JSON.parse((await reader.read(INDEX, limits.maxIndexBytes)).toString('utf8'))) as BundleIndex;
  const files = new Map<string, string>();
  const apt = index.artifacts.filter((a) => a.kind === 'apt');
  if (apt.length > 0) {
    const packages = packagesIndex(apt);
    const release = releaseFile(packages, { name: index.name, version: index.version, created: index.created, items: apt });
    files.set(APT_PACKAGES, packages);
    files.set(APT_RELEASE, release);
    files.set(APT_INRELEASE, await clearsign(release, key, o.now));
  }
  const listed = parseSums((await reader.read(SUMS, limits.maxIndexBytes)).toString('utf8'));
  const entries: SumEntry[] = [...listed].filter(([p]) => !files.has(p)).map(([path, hex]) => ({ path, hex }));
  for (const [path, text] of files) entries.push({ path, hex: createHash('sha256').update(text).digest('hex') });
  const sums = formatSums(entries);
  const signature = await signDetached(Buffer.from(sums), key, o.now);
  const written: string[] = [];
  for (const [path, text] of [...files, [SUMS, sums], [SUMS_SIG, signature]] as const) {
    await writeFileAtomic(join(location, path), text);
    written.push(path);
  }
  return { bundle: location, signer: key.fingerprint, written, aptPackages: apt.length };
}

/** The first line of a passphrase file (--passphrase-file). */
export async function readPassphrase(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/)[0] ?? '';
  } catch (err) {
    throw new UsageError({
      code: 'BAD_KEY',
      message: `cannot read the passphrase file ${file} (${(err as Error).message})`,
      subject: file,
    });
  }
}
