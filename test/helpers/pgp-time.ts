import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpg } from './gpg.js';
import type { SigningKey } from './gpg.js';

export { gpg };

/**
 * OpenPGP keys and signatures made by the real gpg at chosen times (--faked-system-time), to show how a key that
 * expired, was revoked, or a signature dated oddly is judged: by gpgv (the reference) and by us.
 */
export interface TimedKey extends SigningKey {
  /** The armoured public key (gpg --export --armor), as the box and `verify --key` take it. */
  pub: string;
}

/** An ed25519 signing key created at `created` (default now), expiring after `expire` (gpg's form: 1y, 2d, 0 = never). */
export async function makeTimedKey(dir: string, name: string, o: { created?: Date; expire?: string } = {}): Promise<TimedKey> {
  const tag = name.replace(/\W/g, '');
  const home = join(dir, `gnupg-${tag}`);
  await mkdir(home, { recursive: true, mode: 0o700 });
  gpg(home, ['--quick-gen-key', `${name} <${tag.toLowerCase()}@test.invalid>`, 'ed25519', 'sign', o.expire ?? '0'], o.created);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(home, ['--with-colons', '--list-keys']))![1]!;
  const k = { home, fingerprint, keyring: join(dir, `${tag}.gpg`), pub: join(dir, `${tag}.asc`) };
  exportKey(k);
  return k;
}

/** (Re)writes the key's public files from its GNUPGHOME (after a revocation or a new expiry). */
export function exportKey(k: TimedKey): void {
  gpg(k.home, ['--output', k.keyring, '--export', k.fingerprint]);
  gpg(k.home, ['--armor', '--output', k.pub, '--export', k.fingerprint]);
}

/** Revokes the key with the revocation certificate gpg made with it, and re-exports the public files. */
export async function revokeKey(k: TimedKey): Promise<void> {
  const cert = await readFile(join(k.home, 'openpgp-revocs.d', `${k.fingerprint}.rev`), 'utf8');
  const file = join(k.home, 'revoke.asc');
  await writeFile(file, cert.replace(/^:-----/m, '-----'));
  gpg(k.home, ['--import', file]);
  exportKey(k);
}

/** A detached armoured signature of `file` (gpg -b -a), made at `at`, optionally expiring after `expire`. */
export function detachSign(k: TimedKey, file: string, out: string, o: { at?: Date; expire?: string } = {}): void {
  gpg(
    k.home,
    ['--local-user', k.fingerprint, ...(o.expire ? ['--default-sig-expire', o.expire] : []), '--armor', '--detach-sign', '--output', out, file],
    o.at,
  );
}

/** The file clearsigned (as an InRelease), made at `at`. */
export function clearSign(k: TimedKey, file: string, out: string, at?: Date): void {
  gpg(k.home, ['--local-user', k.fingerprint, '--clearsign', '--output', out, file], at);
}

/** gpgv's verdict (the reference): exit status and status words (GOODSIG, EXPKEYSIG, REVKEYSIG, EXPSIG, ERRSIG…). */
export function gpgv(keyring: string, sig: string, data?: string): { rc: number; words: string[] } {
  const r = spawnSync('gpgv', ['--status-fd', '1', '--keyring', keyring, sig, ...(data ? [data] : [])], { encoding: 'utf8' });
  const words = [...r.stdout.matchAll(/^\[GNUPG:\] (\w+)/gm)].map((m) => m[1]!);
  return { rc: r.status ?? -1, words };
}
