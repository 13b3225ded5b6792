import { embedded } from '../util/embed.js';

/**
 * The sh entry points every bundle carries, from the real scripts in ./sh/ (shellcheck reads them as they are
 * assembled here; test/box-scripts.test.ts). POSIX sh plus coreutils, grep and, only with --key, gpgv (apt
 * depends on it: every Debian and Ubuntu box has it). python3, where the box has it, hashes the 100 MB node four
 * times faster than coreutils' sha256sum (prelude.sh's sums_check); sha256sum does it otherwise.
 *
 * With --key, SHA256SUMS.asc is checked over SHA256SUMS by gpgv first: the runtime is then checked against the
 * signed list, so a bundle whose runtime/vault-bundle.cjs was swapped and its SHA256SUMS line updated is
 * refused here instead of being run and asked whether it is genuine. Exit codes are the JS side's: 4 for
 * UNSIGNED and SIGNATURE_INVALID, 64 for a key file that is not a usable key, 5 for no usable temp folder.
 *
 * A FAT32 stick is often mounted without exec bits (udisks' showexec) or noexec: then node runs from a copy in
 * $TMPDIR (else $HOME, /dev/shm, /var/tmp when that is unwritable or noexec), checked against SHA256SUMS again
 * after the copy; a trap removes the copy on Ctrl-C and kill as on a normal exit.
 */
const PARTS: Record<string, string> = {
  // Both entry points: traps, temp folders, the release key as a keyring for gpgv.
  'prelude.sh': embedded(new URL('./sh/prelude.sh', import.meta.url)),
  // Both entry points: the --key gate (gpgv over SHA256SUMS) and the runtime check, up to running node.
  'gate.sh': embedded(new URL('./sh/gate.sh', import.meta.url)),
};

/** An entry script with each `#@include <part>` line replaced by that part. */
export function assembleEntry(script: string, parts: Readonly<Record<string, string>> = PARTS): string {
  return script.replace(/^#@include (\S+)\n/gm, (_, name: string) => {
    const part = parts[name];
    if (part === undefined) throw new Error(`entry script: no part ${name}`);
    return part;
  });
}

/** `./verify`: checks the runtime with coreutils alone (and the signature, with --key), then verifies the bundle. */
export const VERIFY_SH = assembleEntry(embedded(new URL('./sh/verify.sh', import.meta.url)));

/** `./vault-bundle <command>`: the same checks, then any command (install ., smoke, inspect .). */
export const WRAPPER_SH = assembleEntry(embedded(new URL('./sh/vault-bundle.sh', import.meta.url)));
