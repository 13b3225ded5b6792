import type { HashedFile } from '../bundle/verify.js';
import type { ImageVersion } from '../state/image-version.js';
import type { SignatureStatus } from '../bundle/signature.js';
import type { Exec, InstallReport } from '../sources/source.js';
import type { Reporter } from '../util/events.js';
import type { Plan } from '../util/plan.js';
import type { SpaceCheck } from '../util/space.js';

export interface InstallOptions {
  bundle: string;
  /** Files of the bundle this process hashed as it fetched them (verify does not read them again). */
  hashed?: ReadonlyMap<string, HashedFile>;
  dryRun: boolean;
  stateDir?: string;
  only?: string[];
  /** Also write every model's files as real files under this folder (tools that do not follow symlinks). */
  flat?: string;
  /** Where hf writes the login snippet with HF_HOME and the offline switches (default /etc/profile.d/vault-ai-models.sh). */
  profile?: string;
  /** The image-version stamp a complete install writes (default /etc/vault-ai/image-version.json as root, else image-version.json in the state folder). */
  imageVersion?: string;
  /** How many install history records the state folder keeps (default 3). */
  keepHistory?: number;
  /**
   * Keep this bundle's artifacts (bundle.json, SHA256SUMS and its signature, every blob; not the runtime) in
   * <state>/kept/<bundle.json sha256>/, so a later rollback to it needs no copy of the bundle; bounded with the history.
   */
  keepBlobs?: boolean;
  /**
   * The bundle folder is this process's own copy of a served bundle (install of an http(s):// URL, pulled into the
   * cache and checked): a file artifact's blob that no other artifact shares is moved into place instead of copied
   * (written once, not twice). The next pull of that URL fetches it again; a rollback needs only apt's and pip's
   * blobs of it, which stay. Not with keepBlobs (it copies every blob from the bundle after the install).
   */
  takePulled?: boolean;
  /** A delta's base bundle; default: where the journal says that bundle was installed from. */
  base?: string;
  /**
   * Release public key: SHA256SUMS.asc must be present and verify against it (never a fallback to trusted=yes),
   * and apt checks the bundle's signed InRelease with it.
   */
  key?: string;
  /** Kept for compatibility: a key already requires a signature. */
  requireSignature?: boolean;
  /** Install even when this box has a newer version of the same bundle installed (a deliberate rollback). */
  allowDowngrade?: boolean;
  /** Install a bundle past its `expires` date. */
  allowExpired?: boolean;
  /** Install on a box that is not the bundle's target (OS, architecture, Python): the mismatches become warnings. */
  ignoreTarget?: boolean;
  /** /etc/os-release unless a test points at another box's. */
  osRelease?: string;
  /** Clock for the signature and expiry checks (tests pin it). */
  now?: Date;
  exec: Exec;
  report: Reporter;
  signal: AbortSignal;
}

export interface InstallResult {
  bundle: string;
  name: string;
  version: string;
  dryRun: boolean;
  reports: (InstallReport & { ms: number })[];
  /** The journal this run was appended to (a dry run writes none). */
  journal?: string;
  /** A dry run's plan: what changes, from which version to which (the format rollback --dry-run prints). */
  plan?: Plan;
  /** The stamp written (a complete real install of every kind only). */
  stamp?: ImageVersion;
  /** Free space checked per filesystem before anything was written. */
  space?: SpaceCheck[];
  /** Time spent verifying (and, for a delta, checking its base) before installing. */
  verifyMs: number;
  /** What verify found about the bundle's signature (valid only with --key). */
  signature: SignatureStatus;
}
