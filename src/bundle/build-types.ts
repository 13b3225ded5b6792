import type { FetchTally } from '../fetch/download.js';
import type { Lock } from '../lock/lock.js';
import type { LoadedManifest } from '../manifest/load.js';
import type { LoadedProbe } from '../probe/load.js';
import type { prepareRuntime } from '../runtime/carry.js';
import type { BuildCtx, Locked } from '../sources/source.js';
import type { BaseRef } from './index.js';
import type { Media } from './media.js';
import type { SigningKey } from './signature.js';

// What a build is asked (BuildOptions), what it answers (BuildResult), and what its steps hand each other in
// bundle/publish.ts (BuildPlan, Fetched).

export interface BuildOptions {
  manifest: string;
  lock?: string;
  out?: string;
  tar?: string;
  frozen: boolean;
  concurrency: number;
  /** HTTP streams at once for big http(s) files fetched in byte ranges (default: from concurrency; 1: one stream a file). */
  streams?: number;
  /** `host`: carry this machine's node and the packed tool (./verify works on a box without Node.js); `none`. */
  runtime?: string;
  /** A probe file of the box (`vault-bundle probe`): bundle only what that box lacks. */
  target?: string;
  /** dir (default), tar (also `<out>.tar` unless --tar names it), fat32 (blobs in parts of `partSize`). */
  media?: Media;
  partSize?: number;
  /** An older bundle (folder, tar, split folder, or its bundle.json): write only the blobs it lacks. */
  base?: string;
  now?: Date;
  /** Secret key file: sign the bundle as `vault-bundle sign` would (SHA256SUMS.asc, the apt repository's InRelease). */
  signKey?: string;
  /** First line: the passphrase of a protected signing key. */
  passphraseFile?: string;
  /** When the bundle expires: an ISO 8601 date or time, or a duration from its `created` time (90d, 12w, 36h). */
  expires?: string;
}

export interface BuildResult {
  dir: string;
  tar?: string;
  lockPath: string;
  lockResolved: boolean;
  lock: Lock;
  /** Files SHA256SUMS lists (what verify checks and counts): SHA256SUMS and SHA256SUMS.asc are not counted. */
  files: number;
  bytes: number;
  /** fat32 media: how many parts. */
  parts?: number;
  /** A delta: its base and how many blobs come from it. */
  base?: { name: string; version: string; blobs: number };
  /** build --sign-key: the signer's fingerprint. */
  signer?: string;
  expires?: string;
  /** What the fetch took from the cache and what it downloaded (the blobs the bundle needs, unique by digest). */
  fetch: FetchTally;
  /** Blobs copied out of the cache (`unchanged`: of them, proven by their proof, not hashed), and linked from the bundle replaced (store/placed.ts). */
  copies: { blobs: number; unchanged: number; reused: number; written: number };
  /** The whole build, from reading the manifest to the bundle in place. */
  durationMs: number;
}

/** What the build settled before its first download: the manifest, the key, the box, where everything goes. */
export interface BuildPlan {
  m: LoadedManifest;
  signKey?: SigningKey;
  probe?: LoadedProbe;
  media: Media;
  out: string;
  tarTo?: string;
  /** The tar's folder when the tar is a file of its own (not a device or FIFO written directly). */
  tarDir?: string;
  ctx: BuildCtx;
}

/** What the lock and the fetch gave: every artifact is in the store except those the base holds. */
export interface Fetched {
  lock: Lock;
  lockPath: string;
  resolved: boolean;
  fromBase: Set<string>;
  baseRef?: BaseRef;
  /** bundle.json's artifacts: the lock's with the facts read from the fetched bytes (apt licences), see facts.ts. */
  artifacts: Promise<Locked[]>;
  /** The carried runtime, still in the making: awaited once the downloads are done. */
  runtime: ReturnType<typeof prepareRuntime>;
  tally: FetchTally;
}
