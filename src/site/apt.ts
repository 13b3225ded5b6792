import type { LoadedBundle } from '../bundle/load.js';
import { BLOBS_DIR } from '../bundle/layout.js';
import { APT_INRELEASE, APT_PACKAGES, APT_RELEASE, packagesIndex, releaseFile } from '../sources/apt/install.js';
import { hexOf } from '../store/digest.js';
import { type SiteEntry, blobEntry, bundleEntry, textEntry } from './plan.js';

const TEXT = 'text/plain; charset=utf-8';

/**
 * `apt/`: the bundle's flat repository (Debian RepositoryFormat, "Flat Repository Format"), read with one line,
 * `deb [signed-by=<release key>] http://host/apt ./`. Packages names each .deb `blobs/sha256/<hex>`, relative to
 * the repository root (apt/), so the .debs sit there under their hashes. A signed bundle's own Packages, Release
 * and InRelease are served as they are (the box holds no secret key to sign anew); an unsigned bundle gets them
 * generated from bundle.json, for `[trusted=yes]`.
 */
export function aptEntries(b: LoadedBundle): { entries: SiteEntry[]; signed: boolean } | undefined {
  const items = b.index.artifacts.filter((a) => a.kind === 'apt');
  if (items.length === 0) return undefined;
  const entries: SiteEntry[] = [];
  const signed = b.reader.entries.has(APT_INRELEASE) && b.sums.list.has(APT_INRELEASE);
  if (signed) {
    for (const p of [APT_PACKAGES, APT_RELEASE, APT_INRELEASE]) if (b.sums.list.has(p)) entries.push(bundleEntry(b, p, p, TEXT));
  } else {
    const packages = packagesIndex(items);
    entries.push(textEntry(APT_PACKAGES, packages, TEXT));
    entries.push(textEntry(APT_RELEASE, releaseFile(packages, { name: b.index.name, version: b.index.version, created: b.index.created, items }), TEXT));
  }
  const seen = new Set<string>();
  for (const a of items) {
    const hex = hexOf(a.digest);
    if (seen.has(hex)) continue;
    seen.add(hex);
    entries.push(blobEntry(b, a, `apt/${BLOBS_DIR}/${hex}`, 'application/vnd.debian.binary-package'));
  }
  return { entries, signed };
}
