import type { Locked } from '../../sources/source.js';
import type { Reporter } from '../../util/events.js';
import type { HashJob, HashPool } from '../hashpool.js';
import type { BundleIndex } from '../index.js';
import type { LoadedSums } from '../load.js';
import type { BundleReader } from '../reader.js';
import type { SignatureStatus, readVerifyKeys } from '../signature.js';
import type { Problem } from './problems.js';

export interface VerifyOptions {
  report?: Reporter;
  threads?: number;
  base?: string;
  /** Release public key file: SHA256SUMS.asc must be present and verify against it. */
  key?: string;
  /** Kept for compatibility: a key already requires a signature. Without a key it is a usage error. */
  requireSignature?: boolean;
  allowExpired?: boolean;
  /**
   * The box trust policy's folder (default /etc/vault-ai/trust or $VAULT_BUNDLE_TRUST_DIR); false ignores it.
   * Used when no key is given: its release keys check SHA256SUMS.asc, and require-signature refuses an unsigned bundle.
   */
  trustDir?: string | false;
  /** Clock for the signature and expiry checks (tests pin it). */
  now?: Date;
  /** Ctrl-C: hashing stops (the threads are terminated) and verify rejects with InterruptedError. */
  signal?: AbortSignal;
  /**
   * Files this process has just hashed as it wrote them (a served bundle fetched into the cache), by bundle path:
   * one still of that size and mtime, whose hash is its SHA256SUMS line, is taken as checked and not read again.
   */
  hashed?: ReadonlyMap<string, HashedFile>;
}

export interface HashedFile {
  hex: string;
  size: number;
  mtimeMs: number;
}

export interface VerifyReport {
  bundle: string;
  ok: boolean;
  name?: string;
  version?: string;
  files: number;
  bytes: number;
  durationMs: number;
  /** When the verify began, in ms since the process started (node's own start, loading the CLI, parsing it): with the wall time, what start-up and exit cost. */
  startedAtMs: number;
  /** Each step with its time, in the order run (the cacache verify habit). */
  steps: { name: string; ms: number }[];
  problems: Problem[];
  /** A split bundle: its parts. */
  parts?: { count: number; bytes: number };
  /** A delta bundle: its base, and whether the blobs it leaves to the base were checked there. */
  base?: { name: string; version: string; blobs: number; bytes: number; checkedIn?: string };
  /** SHA256SUMS.asc: checked against --key (valid, invalid), absent (unsigned), or present but no key given (unchecked). */
  signature: SignatureStatus;
  /** Unlisted macOS/Windows metadata (.DS_Store, ._*, System Volume Information/…): ignored, never read. */
  ignored?: string[];
  /** bundle.json's expiry, and whether it has passed (a failure unless --allow-expired). */
  expires?: string;
  expired?: boolean;
  /** The box trust policy the signature was judged by (no --key given and a policy folder exists). */
  policy?: { root: string; requireSignature: boolean; keys: string[] };
  /** A big bundle's hashing: on threads, or by the box's sha256sum (openssl) processes (util/hash-procs.ts). */
  hashedBy?: { by: 'threads' | 'sha256sum' | 'openssl'; processes?: number };
}

/** A file to hash, and the sha256 (hex) it must have: SHA256SUMS's for the bundle's own, bundle.json's for a base's. */
export interface HashTarget {
  /** As problems name it: the bundle path, or `base:<path>` for a blob checked in the base bundle. */
  path: string;
  job: HashJob;
  expected: string;
}

/**
 * What verify knows so far, passed from step to step. Each step reads what the steps before it found and adds
 * its own findings; a check that fails adds a problem and the list goes on (verify reports every problem, not
 * just the first). Only a bundle that cannot be read at all ends it early (`stopped`).
 */
export interface VerifyState {
  readonly reader: BundleReader;
  readonly options: VerifyOptions;
  readonly now: Date;
  /** The --key keys, or the trust policy's; absent without either (the signature is then reported, not checked). */
  readonly keys: Awaited<ReturnType<typeof readVerifyKeys>> | undefined;
  /** Who asks for the signature, as messages say it: "--key" or "the box trust policy (<folder>)". */
  readonly keySource: string;
  /** A policy without require-signature: an unsigned bundle passes (a signed one must verify). */
  readonly signatureOptional: boolean;
  readonly policy?: VerifyReport['policy'];
  /** Hashing threads, started early for a big bundle; absent for a small one. */
  readonly pool: HashPool | undefined;
  readonly problems: Problem[];
  signature: SignatureStatus;
  /** SHA256SUMS as read once: the bytes the signature is checked over, and the list everything is checked against. */
  sums: LoadedSums;
  /** bundle.json, once it parsed as an index. */
  index?: BundleIndex;
  /** Set when the checklist stopped early; the name and version of a bundle whose blobs cannot be read. */
  stopped?: { name?: string; version?: string };
  /** OS metadata left in the folder, unlisted: reported as ignored, never read. */
  ignored: string[];
  expired?: boolean;
  /** A delta's artifacts whose blobs are in its base (checked there with --base). */
  needBase: Locked[];
  toHash: HashTarget[];
  /** How many of the bundle's own files are hashed (the report's `files`). */
  own: number;
  base?: NonNullable<VerifyReport['base']>;
  /** Bytes read while hashing. */
  bytes: number;
  /** The byte ranges that failed their hash (a split bundle names the parts they lie in). */
  bad: HashJob[];
}

/**
 * One named check of the list. `timed` steps are the ones the report lists with their time (and where a
 * Ctrl-C is noticed); an untimed step is a quick comparison between two timed ones.
 */
export interface VerifyStep {
  readonly name: string;
  readonly timed: boolean;
  /** Whether the step applies to this bundle; one that does not is neither run nor listed. */
  readonly when?: (s: VerifyState) => boolean;
  readonly run: (s: VerifyState) => Promise<void> | void;
}
