import type { BundleIndex } from '../bundle/index.js';
import type { SignatureStatus } from '../bundle/signature.js';
import type { ImageVersion } from '../state/image-version.js';

export interface StampInput {
  index: BundleIndex;
  /** sha256 hex of bundle.json as it is in the bundle. */
  indexSha256: string;
  signature: SignatureStatus;
  /** The stamp the box had before (its version becomes previous_version). */
  previous?: ImageVersion;
  installedAt: Date;
  via?: ImageVersion['via'];
}

/**
 * The stamp of a complete install. build_date is the bundle's `created` day (SOURCE_DATE_EPOCH when the build
 * set it); git_commit only when the bundle.json carries one (`git_commit` or `build.git_commit`, as a CI may add).
 */
export function makeStamp(s: StampInput): ImageVersion {
  const { index } = s;
  const commit = gitCommitOf(index);
  const { os, arch, python } = index.target;
  return {
    version: index.version,
    build_date: index.created.slice(0, 10),
    ...(commit ? { git_commit: commit } : {}),
    ...(index.description ? { description: index.description } : {}),
    bundle: index.name,
    bundle_digest: `sha256:${s.indexSha256}`,
    ...(s.signature.status === 'valid' && s.signature.signer ? { signer: s.signature.signer } : {}),
    target: { os, arch, ...(python ? { python } : {}) },
    installed_at: s.installedAt.toISOString(),
    ...(s.previous ? { previous_version: s.previous.version } : {}),
    via: s.via ?? 'install',
  };
}

function gitCommitOf(index: BundleIndex): string | undefined {
  const loose = index as unknown as { git_commit?: unknown; build?: { git_commit?: unknown } };
  const c = loose.git_commit ?? loose.build?.git_commit;
  return typeof c === 'string' && /^[0-9a-f]{7,64}$/i.test(c) ? c : undefined;
}
