import type { z } from 'zod';
import type { HttpClient } from '../fetch/http.js';
import type { Digest } from '../store/digest.js';
import type { OpenAt, Store } from '../store/store.js';
import type { Reporter } from '../util/events.js';
import type { Limits } from '../util/limits.js';
import type { Target } from '../box/target.js';
import type { SpaceNeed } from '../util/space.js';
import type { Exec } from '../util/exec.js';
import type { BoxProbe } from '../box/probe.js';

/** Programs run on the box; defined beside its one implementation, named here for the sources' installers. */
export type { Exec };

export type SourceKind = 'file' | 'apt' | 'pip' | 'hf';

/** How we came to trust an artifact's digest. */
export type Provenance =
  /** A sha256 written by the release engineer in the manifest. */
  | { kind: 'manifest-pin'; manifest: string }
  /** A hash from an index signed with OpenPGP (apt InRelease → Packages → .deb). */
  | { kind: 'signed-index'; index: string; indexDigest: Digest; signer: string }
  /** A hash published by an index over TLS (PEP 691 hashes, HF LFS oid). */
  | { kind: 'index-hash'; index: string };

/** One pinned artifact: the unit that the lock, the store, the bundle and the SBOM all handle. */
export interface Locked {
  kind: SourceKind;
  /** Stable and human: `file:nvidia-keyring`, `apt:jq@1.6-2.1:amd64`. Unique within a lock. */
  id: string;
  name: string;
  version: string;
  digest: Digest;
  size: number;
  /** Where build fetched it (a URL or file:// path); never used on the box. */
  url: string;
  /** Package URL for the SBOM. */
  purl: string;
  provenance: Provenance;
  /** Kind-specific extras (install destination, wheel tags, apt Depends, HF git oid). */
  meta?: Record<string, string>;
}

/** What a source needs while resolving and fetching on the connected host. */
export interface BuildCtx {
  http: HttpClient;
  store: Store;
  report: Reporter;
  signal: AbortSignal;
  limits: Limits;
  /** Folder of the manifest: relative paths in it are relative to here. */
  baseDir: string;
  /** Manifest file, for errors and provenance. */
  manifestPath: string;
  /** The box the bundle is for. */
  target: Target;
  /** Clock for signature and expiry checks (tests pin it). */
  now: Date;
  /**
   * The box as `vault-bundle probe` read it (`--target <probe>`): sources leave out what it already has (apt
   * resolves against its dpkg status, pip skips installed distributions, hf skips cached snapshots).
   */
  box?: BoxProbe;
  /** The box's dpkg status as deb822 text, inflated and checked when the probe was loaded (apt resolves against it). */
  boxDpkgStatus?: string;
}

/** What a source's facts read is given besides the artifacts: its manifest section, and when each blob arrives. */
export interface FactsOptions<Spec = unknown> {
  spec?: Spec | undefined;
  stored?: (item: Locked) => Promise<boolean>;
  /** Resolves when the downloads are over (a build's reads may then use every core). */
  fetchOver?: Promise<void>;
}

/**
 * A Source turns the manifest section of its kind into locked artifacts (checking the upstream trust chain
 * on the way) and yields their bytes. It never decides whether bytes are good: the Store does.
 */
export interface Source<Spec = unknown> {
  readonly kind: SourceKind;
  /** Manifest key holding this source's entries (`files`, `apt`, `pip`, `hf`). */
  readonly section: string;
  /** Validates the section; its JSON Schema is generated from this. */
  readonly schema: z.ZodType<Spec>;
  resolve(spec: Spec, ctx: BuildCtx): Promise<Locked[]>;
  /** Bytes of a locked artifact from `offset` on. */
  open(item: Locked, ctx: BuildCtx): OpenAt;
  /**
   * Facts read at build from the fetched bytes (in ctx.store), by artifact id: extra meta keys for bundle.json
   * (apt: the licence in each .deb's copyright file). A function of the pinned bytes (so of the lock) and of
   * the section's settings. `stored` resolves once an item's blob is in the store (false: it will not come),
   * so a build reads while it downloads; absent, every blob is already there.
   */
  facts?(items: readonly Locked[], ctx: BuildCtx, o: FactsOptions<Spec>): Promise<Map<string, Record<string, string>>>;
  /** Extra files this kind writes into the bundle (paths relative to its root), e.g. pip's requirements.lock. */
  views?(items: readonly Locked[]): Record<string, string>;
  /** Installs the verified artifacts of this kind on the box (its own view of the bundle, its own tool). */
  install(items: readonly Locked[], ctx: BoxCtx): Promise<InstallReport>;
  /**
   * Asks the box's own tool whether this kind's install would go through (apt's simulation of the whole
   * step), before anything of any kind is written; throws the refusal (APT_REFUSED) naming why. Returns the
   * tool's plan when it has one (apt: every package it will install, upgrade or remove), which history records.
   */
  preflight?(items: readonly Locked[], ctx: BoxCtx): Promise<PlannedChange[] | void>;
  /** What install will write where (checked against free space first); nothing for what is already in place. */
  space?(items: readonly Locked[], ctx: BoxCtx): Promise<SpaceNeed[]>;
}

/** One change a kind's own tool plans (apt's simulation): a package, its version before (null: none) and after (null: removed). */
export interface PlannedChange {
  package: string;
  arch: string;
  before: string | null;
  after: string | null;
}

/** What a source needs on the box. No network: installers use the bundle and local tools only. */
export interface BoxCtx {
  /** The verified bundle folder. */
  bundleDir: string;
  /** Path of an artifact's bytes inside the bundle. */
  blobPath(item: Locked): string;
  /** Scratch space that lives as long as the install (repository views, apt lists). */
  workDir: string;
  /** Where vault-bundle keeps its own state on the box (journal, installed bundles). */
  stateDir: string;
  dryRun: boolean;
  /**
   * Whether the blob of `item` may be moved into place rather than copied: nothing reads it after this install (a
   * pulled bundle's cache copy, not shared with another artifact). Absent: always copy.
   */
  take?(item: Locked): boolean;
  /**
   * Per-kind install options: hf's `flat` (a folder for real files) and `profile` (the login snippet that
   * sets HF_HOME; default /etc/profile.d/vault-ai-models.sh, tests point it into their temp folder).
   */
  options: { flat?: string; profile?: string };
  /**
   * A binary keyring with the key the bundle's signature was just checked against (install --key): apt then
   * uses the bundle's signed Packages/InRelease with signed-by instead of trusted=yes.
   */
  signedBy?: string;
  exec: Exec;
  report: Reporter;
  signal: AbortSignal;
}

export interface InstallReport {
  kind: SourceKind;
  /** What was (or, with --dry-run, would be) installed or changed; empty when nothing needed doing. */
  changed: string[];
  /** What was already in place. */
  unchanged: string[];
  /** Tool output worth keeping in the journal (apt's plan, pip's summary). */
  detail?: string;
}
