import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { type PublicKey, normFingerprint, publicKeys, readKeys } from '../../pgp/keys.js';
import { ManifestError } from '../../util/errors.js';
import { type Keyring, SYSTEM_KEYRING_DIRS, readKeyring, restrictKeyring } from './keyring.js';
import type { AptSpec } from './schema.js';
import { type RepoSource, readSystemSources } from './sourcelist.js';

/** A repository ready to fetch: its sources entry and the keyring its Release must be signed with. */
export interface TrustedRepo {
  source: RepoSource;
  keyring: Keyring;
}

/** Expands the manifest's apt sources (including `system`) into repositories with their keyrings. */
export async function expandSources(spec: AptSpec, baseDir: string, etc = '/etc/apt'): Promise<TrustedRepo[]> {
  const entries = spec.sources === 'system' ? [{ system: true as const }] : spec.sources;
  const out: TrustedRepo[] = [];
  for (const e of entries) {
    if ('system' in e) {
      let sys = await readSystemSources(etc);
      if (e.suites) sys = sys.filter((s) => s.suites.some((x) => e.suites!.includes(x)));
      if (sys.length === 0) {
        throw new ManifestError({
          code: 'SOURCE_UNAVAILABLE',
          message: `apt.sources: "system" found no deb sources in ${etc}${e.suites ? ` for suites ${e.suites.join(', ')}` : ''}`,
          subject: 'apt.sources',
          hint: 'list the repositories in the manifest instead (uri, suites, components, signed-by)',
        });
      }
      for (const s of sys) {
        const source: RepoSource = {
          ...s,
          suites: e.suites ? s.suites.filter((x) => e.suites!.includes(x)) : s.suites,
          components: e.components ?? s.components,
          checkValidUntil: e['check-valid-until'] ?? s.checkValidUntil,
          checkDate: e['check-date'] ?? s.checkDate,
        };
        out.push({ source, keyring: await keyringFor(source.signedBy, baseDir, `${s.from} (${s.uri})`) });
      }
    } else {
      const signedBy = typeof e['signed-by'] === 'string' ? [e['signed-by']] : e['signed-by'];
      const source: RepoSource = {
        from: 'manifest',
        uri: e.uri.replace(/\/+$/, ''),
        suites: e.suites,
        components: e.components,
        signedBy,
        checkValidUntil: e['check-valid-until'] ?? true,
        checkDate: e['check-date'] ?? true,
        ...(e.pin !== undefined ? { pin: e.pin } : {}),
      };
      out.push({ source, keyring: await keyringFor(signedBy, baseDir, e.uri) });
    }
  }
  return out;
}

const FPR = /^[0-9A-Fa-f]{16,40}$/;

/**
 * A `Signed-By` value, as apt reads it: keyring files, fingerprints (looked up in apt's keyring folders),
 * or an inline armoured key. With none, apt trusts every key in trusted.gpg(.d); so do we.
 */
async function keyringFor(signedBy: string[], baseDir: string, label: string): Promise<Keyring> {
  const keys: PublicKey[] = [];
  const fingerprints: string[] = [];
  const files: string[] = [];
  for (const s of signedBy) {
    if (s.includes('BEGIN PGP PUBLIC KEY BLOCK')) keys.push(...(await inlineKeys(s, label)));
    else if (FPR.test(s.replace(/\s/g, '')) && !s.includes('/')) fingerprints.push(normFingerprint(s));
    else files.push(isAbsolute(s) ? s : resolve(baseDir, s));
  }
  for (const f of files) keys.push(...(await readKeyring(f)).keys);
  if (fingerprints.length > 0) {
    const pool: PublicKey[] = [];
    for (const f of await keyringFiles(SYSTEM_KEYRING_DIRS)) pool.push(...(await readKeyring(f).catch(() => ({ keys: [] }))).keys);
    const found = restrictKeyring({ label, keys: pool }, fingerprints).keys;
    if (found.length === 0) {
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `${label}: no key with fingerprint ${fingerprints.join(', ')} in ${SYSTEM_KEYRING_DIRS.join(', ')}`,
        subject: label,
        hint: 'give the keyring file in "signed-by" instead, or install the key on this host',
      });
    }
    keys.push(...found);
  }
  if (signedBy.length === 0) {
    for (const f of [...(await keyringFiles(['/etc/apt/trusted.gpg.d'])), '/etc/apt/trusted.gpg']) {
      keys.push(...(await readKeyring(f).catch(() => ({ keys: [] }))).keys);
    }
  }
  if (keys.length === 0) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${label}: no signing key to check the repository against`,
      subject: label,
      hint: 'set "signed-by" to the repository\'s keyring file',
    });
  }
  return { label: files.length ? files.join(', ') : fingerprints.length ? fingerprints.join(', ') : label, keys };
}

async function keyringFiles(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    const names = await readdir(d).catch(() => [] as string[]);
    out.push(
      ...names
        .filter((n) => /\.(gpg|asc)$/.test(n))
        .sort()
        .map((n) => join(d, n)),
    );
  }
  return out;
}

/** An armoured key written into the manifest's signed-by. */
async function inlineKeys(armored: string, label: string): Promise<PublicKey[]> {
  try {
    return publicKeys(await readKeys(Buffer.from(armored, 'utf8')));
  } catch (err) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${label}: the key in signed-by is not an OpenPGP public key (${(err as Error).message})`,
      subject: label,
      hint: 'paste the armoured public key (gpg --export --armor <fingerprint>), or give its file',
    });
  }
}
