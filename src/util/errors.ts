import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Every failure a user can act on is a VaultError with a stable `code`, the thing it is about (`subject`:
 * a file:line, a manifest field, an artifact id) and a `hint` saying what to do. The CLI maps the class to
 * an exit code; anything that is not a VaultError is a bug (exit 70).
 */
export class VaultError<C extends string = string> extends Error {
  readonly code: C;
  readonly hint: string | undefined;
  readonly subject: string | undefined;
  /** Exit code of the CLI when this error ends a command. */
  readonly exitCode: number = 1;

  constructor(o: { code: C; message: string; hint?: string; subject?: string; cause?: unknown }) {
    super(o.message, o.cause === undefined ? undefined : { cause: o.cause });
    this.code = o.code;
    this.hint = o.hint;
    this.subject = o.subject;
    this.name = new.target.name;
  }
}

export type ManifestCode =
  'MANIFEST_READ' | 'MANIFEST_YAML' | 'MANIFEST_FIELD' | 'LOCK_READ' | 'LOCK_STALE' | 'LOCK_MISSING' | 'UNPINNED' | 'SOURCE_UNAVAILABLE';
/** The manifest or lock is wrong: the release engineer edits a file. */
export class ManifestError extends VaultError<ManifestCode> {
  override readonly exitCode = 2;
}

export type ProbeCode = 'PROBE_READ' | 'PROBE_FIELD' | 'PROBE_MISMATCH';
/** The probe file given with --target is wrong, or is for another kind of box than the manifest: exit 2, like a manifest. */
export class ProbeError extends VaultError<ProbeCode> {
  override readonly exitCode = 2;
}

export type UpstreamCode =
  | 'HTTP_STATUS'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'TOO_LARGE'
  | 'NOT_FOUND'
  | 'SIGNATURE_INVALID'
  /** A signature whose bytes verify, refused for its key or times: expired or revoked key, expired or impossibly dated signature. */
  | 'SIGNATURE_REFUSED'
  /** A clearsigned InRelease with text outside its signed block (apt refuses the file). */
  | 'UNSIGNED_TEXT'
  | 'INDEX_EXPIRED'
  /** A Release dated more than apt's 10 s ahead of this machine's clock ("is not valid yet"). */
  | 'RELEASE_NOT_YET_VALID'
  | 'NOT_FOUND_IN_INDEX'
  | 'CLOSURE_MISSING';
/** Something outside us (a server, a mirror, a local path) did not give what the lock needs. */
export class UpstreamError extends VaultError<UpstreamCode> {
  override readonly exitCode = 3;
}

export type IntegrityCode =
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'MISSING_FILE'
  | 'UNLISTED_FILE'
  /** Only files that are not the bundle's were found in its folder (left there): move them out. */
  | 'EXTRA_FILES'
  | 'MISSING_BLOB'
  | 'BAD_INDEX'
  | 'BAD_SUMS'
  | 'BAD_PARTS'
  | 'PART_DAMAGED'
  | 'BASE_REQUIRED'
  | 'BASE_MISMATCH'
  | 'VERIFY_FAILED'
  /** SHA256SUMS.asc does not verify against the given key (re-signed, or SHA256SUMS changed after signing). */
  | 'SIGNATURE_INVALID'
  /** SHA256SUMS.asc verifies against the key, but the key is expired or revoked at the time of the check, or the signature's dates are impossible. */
  | 'SIGNATURE_REFUSED'
  /** A signature is required (--key was given) and the bundle has none. */
  | 'UNSIGNED'
  /** The bundle is past the `expires` date in its bundle.json (a freeze: stale bundles are refused). */
  | 'EXPIRED'
  /** The box has a newer version of this bundle installed (a rollback). */
  | 'DOWNGRADE'
  /** A blob in the build cache no longer hashes to its name (bit rot, an edit): moved aside. */
  | 'CACHE_CORRUPT'
  /** A tar (a bundle written with --tar, or a split bundle's parts) is damaged or holds what GNU tar refuses. */
  | 'BAD_TAR'
  /** rollback: something it needs (kept bytes, a model snapshot, the earlier bundle) is not on the box: nothing changed. */
  | 'ROLLBACK_MISSING';
/** Bytes are not what they should be. `expected`/`found` carry the two values when there are two. */
export class IntegrityError extends VaultError<IntegrityCode> {
  override readonly exitCode = 4;
  readonly expected: string | undefined;
  readonly found: string | undefined;
  constructor(o: { code: IntegrityCode; message: string; hint?: string; subject?: string; cause?: unknown; expected?: string; found?: string }) {
    super(o);
    this.expected = o.expected;
    this.found = o.found;
  }
}

export type InstallCode = 'NO_SPACE' | 'OUTPUT_EXISTS' | 'WRITE_FAILED' | 'TOOL_FAILED';
/** Writing on this machine failed: disk, permissions, an external tool. */
export class LocalError extends VaultError<InstallCode> {
  override readonly exitCode = 5;
}

/**
 * The box is not the kind of box the bundle was built for (bundle.json's target: OS release, architecture,
 * the Python the wheels are for; APT_REFUSED: apt's simulation on this box refuses the bundle's apt closure,
 * resolved for other installed versions). Its own exit code: the remedy is another bundle, not another flag or a copy.
 */
export class TargetError extends VaultError<'TARGET_MISMATCH' | 'APT_REFUSED'> {
  override readonly exitCode = 6;
}

export type UsageCode =
  | 'BAD_FLAG'
  | 'NOT_A_BUNDLE'
  | 'INTERRUPTED'
  | 'BAD_KEY'
  /** /etc/vault-ai/trust/ (or $VAULT_BUNDLE_TRUST_DIR) is unreadable, or its policy.yaml is not the policy it must be. */
  | 'TRUST_POLICY'
  /** audit --osv: a path that is not OSV data, or a file in it that is not JSON or not an OSV record (named). */
  | 'BAD_OSV';
export class UsageError extends VaultError<UsageCode> {
  override readonly exitCode = 64;
}

/** Ctrl-C: a distinct class so callers clean up and the CLI exits 130 like a shell would. */
export class InterruptedError extends VaultError<'INTERRUPTED'> {
  override readonly exitCode = 130;
  /** `hint`: what a rerun does for this command (the default speaks of build's download cache). */
  constructor(hint = 'nothing half-written was left behind; run the same command again to resume from the cache') {
    super({ code: 'INTERRUPTED', message: 'interrupted', hint });
  }
}

/** Node's errno errors carry `code`; this narrows an unknown to one. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/**
 * Whether `err` is, or was caused by, an abort (our InterruptedError, or the AbortError that fetch, streams and
 * timers throw when the signal fires). Ctrl-C surfaces as either, wrapped or not, wherever it lands.
 */
export function isAbort(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e) || seen.size > 20) return false;
    seen.add(e);
    if (e instanceof InterruptedError) return true;
    if ((e as { name?: unknown }).name === 'AbortError' || (e as { code?: unknown }).code === 'ABORT_ERR') return true;
    if (e instanceof AggregateError && e.errors.some(visit)) return true;
    return visit((e as { cause?: unknown }).cause);
  };
  return visit(err);
}

/** The first folder on the way to `path` that exists as something else (a file): what ENOTDIR is about. */
function fileInTheWay(path: string): string | undefined {
  let p = resolve(path);
  const chain: string[] = [];
  for (let up = dirname(p); up !== p; p = up, up = dirname(p)) chain.unshift(up);
  for (const dir of chain) {
    try {
      if (!statSync(dir).isDirectory()) return dir;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The nearest folder on the way to `path` that exists (undefined when none can be seen). */
function existingAncestor(path: string): string | undefined {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    try {
      if (statSync(p).isDirectory()) return p;
    } catch {
      // keep climbing
    }
    if (dirname(p) === p) return undefined;
  }
}

/** Why a write to `path` failed, in words with what to do, for the errnos a user can cause; undefined for others. */
function writeErrnoInWords(err: unknown, path: string): { why: string; hint?: string } | undefined {
  const code = errnoCode(err);
  const words: Record<string, () => { why: string; hint?: string }> = {
    ENOTDIR: () => {
      const file = fileInTheWay(path);
      return {
        why: file ? `${file} is a file, not a folder` : 'a part of that path is a file, not a folder',
        hint: 'give a path whose folders are folders (or move that file away)',
      };
    },
    // Node's recursive mkdir reports ENOENT where a folder cannot be made (a read-only filesystem): ask the
    // nearest folder that exists why.
    ENOENT: () => {
      const at = existingAncestor(path);
      try {
        if (at) accessSync(at, constants.W_OK);
      } catch (e) {
        const inner = errnoCode(e) === 'ENOENT' ? undefined : writeErrnoInWords(e, path);
        if (inner) return { ...inner, why: `${inner.why} (at ${at})` };
      }
      return { why: 'a folder on the way does not exist and could not be made', hint: 'check the path' };
    },
    EROFS: () => ({ why: 'the filesystem is read-only', hint: 'choose a path on a writable filesystem (or remount it read-write)' }),
    EISDIR: () => ({ why: 'it is a folder', hint: 'give a file name, not a folder' }),
    EACCES: () => ({ why: 'permission denied', hint: 'check the permissions of that folder, or choose another path' }),
    EPERM: () => ({ why: 'operation not permitted', hint: 'check the permissions (and attributes such as immutable) of that folder, or choose another path' }),
    ENAMETOOLONG: () => ({ why: 'the name is too long', hint: 'choose a shorter path' }),
    ELOOP: () => ({ why: 'too many levels of symbolic links', hint: 'check the symbolic links on that path' }),
  };
  return code ? words[code]?.() : undefined;
}

/**
 * Turns an fs failure while writing `path` into a LocalError the user can act on: each errno a user can
 * cause (a file where a folder should be, a read-only filesystem, permissions, a full disk) is said in words,
 * with what to do. An abort stays an interruption. `what` names the option that gave the path (--tar).
 */
export function localWriteError(err: unknown, path: string, what?: string): VaultError {
  if (err instanceof VaultError) return err as VaultError;
  if (isAbort(err)) return new InterruptedError();
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LocalError({
      code: 'NO_SPACE',
      message: `no space left on the device while writing ${what ? `${what} ` : ''}${path}`,
      subject: path,
      hint: 'free some space (or choose another --out / --cache-dir) and run again; finished downloads are kept in the cache',
      cause: err,
    });
  }
  const known = writeErrnoInWords(err, path);
  const msg = known?.why ?? (err instanceof Error ? err.message : String(err));
  return new LocalError({
    code: 'WRITE_FAILED',
    message: `cannot write ${what ? `${what} ` : ''}${path}: ${msg}`,
    subject: path,
    ...(known?.hint ? { hint: known.hint } : {}),
    cause: err,
  });
}
