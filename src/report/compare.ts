import { changelogMarkdown, diffText } from './changelog.js';
import { type BundleDiff, diffBundles } from './diff.js';
import { loadIndex } from '../bundle/load.js';

export interface DiffResult extends BundleDiff {
  /** Human text of the changes. */
  text: string;
  /** With --changelog: a Markdown section for release notes. */
  changelog?: string;
  /** A side given as a bundle.json alone, with no SHA256SUMS beside it: why nothing vouches for it. */
  unverified?: string[];
}

/**
 * What changed from one bundle to another (any of the three forms each, or a bundle.json; a delta's
 * bundle.json lists every artifact, so deltas compare like full bundles). Differences are the answer, not an
 * error.
 */
export async function compareBundles(o: { old: string; new: string; changelog?: boolean }): Promise<DiffResult> {
  // Both load at once, but a problem is reported for the old side first whichever finishes first: the same
  // input always gives the same message.
  const [ra, rb] = await Promise.allSettled([loadIndex(o.old), loadIndex(o.new)]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  const [a, b] = [ra.value, rb.value];
  const d = diffBundles({ location: a.location, index: a.index, indexSha256: a.sha256 }, { location: b.location, index: b.index, indexSha256: b.sha256 });
  const unverified = [a.unverified, b.unverified].filter((u): u is string => u !== undefined);
  const warn = unverified.map((u) => `warning: ${u}\n`).join('');
  return {
    ...d,
    text: `${warn}${diffText(d)}`,
    ...(o.changelog ? { changelog: changelogMarkdown(d) } : {}),
    ...(unverified.length ? { unverified } : {}),
  };
}
