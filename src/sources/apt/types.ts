import type { Digest } from '../../store/digest.js';

/** One repository index a package came from, with how it was trusted. */
export interface IndexRef {
  /** Repository base URI, e.g. http://mirror/debian (no trailing slash). */
  uri: string;
  /** Suite (codename) or, for a flat repository, the path ("/" or "./"). */
  suite: string;
  /** Component ("main"), or "" for a flat repository. */
  component: string;
  /** Path of the Packages index relative to the dists/<suite> folder (e.g. main/binary-amd64/Packages). */
  indexPath: string;
  /** sha256 of the verified InRelease (or Release) the index's hash came from. */
  releaseDigest: Digest;
  /** Fingerprint of the key whose signature on the Release was verified. */
  signer: string;
  /** Distribution identity for purls: vendor (Origin lower-cased: debian, ubuntu, nvidia) and release. */
  vendor: string;
  distro: string;
  /** apt pin priority of this index (500 by default; 100 for NotAutomatic/ButAutomaticUpgrades suites). */
  pin: number;
}

/** The fields of a Packages stanza that resolution, locking and the SBOM use (Debian Policy §5.3). */
export interface PackageRecord {
  package: string;
  version: string;
  architecture: string;
  multiArch?: 'same' | 'foreign' | 'allowed' | 'no';
  essential?: boolean;
  priority?: string;
  section?: string;
  source?: string;
  homepage?: string;
  preDepends?: string;
  depends?: string;
  recommends?: string;
  provides?: string;
  conflicts?: string;
  breaks?: string;
  /** Path of the .deb relative to the repository base URI. */
  filename: string;
  size: number;
  sha256: string;
  installedSize?: number;
  origin: IndexRef;
}

/** A package as the target box has it, from its dpkg status file (only installed ones count). */
export interface InstalledRecord {
  package: string;
  version: string;
  architecture: string;
  multiArch?: 'same' | 'foreign' | 'allowed' | 'no';
  provides?: string;
  depends?: string;
  preDepends?: string;
}

export interface ResolveRequest {
  /** `name`, `name=version`, `name:arch`, as apt-get install takes them. */
  packages: string[];
  /** Packages never to bundle (their dependents still resolve as if they were there). */
  exclude: string[];
  /** Follow Recommends as apt does by default. */
  recommends: boolean;
  /** The box's native architecture (Debian name) and any foreign ones it has enabled. */
  architectures: string[];
}

export interface ResolveResult {
  /** The packages to bundle, sorted by name then architecture. */
  packages: PackageRecord[];
  /** For each chosen package (key `name:arch`), who pulled it in ("(requested)" for the roots) and through which field. */
  why: Map<string, { by: string; field: 'Depends' | 'Pre-Depends' | 'Recommends' | 'request' }>;
}
