import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A throwaway OpenPGP key in its own GNUPGHOME (tests sign repositories and bundles with the real gpg). */
export interface SigningKey {
  home: string;
  fingerprint: string;
  /** Binary keyring file with the public key (what apt's signed-by takes). */
  keyring: string;
}

/** A throwaway OpenPGP key made by the real gpg (ed25519, no passphrase) in its own GNUPGHOME. */
export async function makeKey(dir: string, name = 'Test Repo'): Promise<SigningKey> {
  const home = join(dir, `gnupg-${name.replace(/\W/g, '')}`);
  await mkdir(home, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', `${name} <repo@test.invalid>`, 'ed25519', 'sign', '1y'], {
    env,
    stdio: 'ignore',
  });
  const colons = execFileSync('gpg', ['--batch', '--with-colons', '--list-keys'], { env, encoding: 'utf8' });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  const keyring = join(dir, `${name.replace(/\W/g, '')}.gpg`);
  execFileSync('gpg', ['--batch', '--yes', '--output', keyring, '--export', fingerprint], { env });
  return { home, fingerprint, keyring };
}

/** Writes the key's armoured public key (or, with `secret`, its secret key: what --sign-key takes) to `file`; returns `file`. */
export function gpgExport(k: SigningKey, secret: boolean, file: string): string {
  gpg(k.home, ['--armor', '--output', file, secret ? '--export-secret-keys' : '--export', k.fingerprint]);
  return file;
}

/** gpg's --faked-system-time form: 20200101T000000 (UTC). */
function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, '');
}

/** The real gpg in `home`, batch and without a passphrase (the test keys have none); at `at` (--faked-system-time) if given. */
export function gpg(home: string, args: string[], at?: Date): string {
  return execFileSync(
    'gpg',
    [
      '--batch',
      '--yes',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      ...(at ? ['--faked-system-time', `${stamp(at)}!`, '--ignore-time-conflict'] : []),
      ...args,
    ],
    { env: { ...process.env, GNUPGHOME: home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
}
