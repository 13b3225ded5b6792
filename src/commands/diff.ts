import { changelogMarkdown, diffText } from '../report/changelog.js';
import { type BundleDiff, diffBundles } from '../report/diff.js';
import { loadBundle } from '../bundle/load.js';

export interface DiffResult extends BundleDiff {
  /** Human text of the changes. */
  text: string;
  /** With --changelog: a Markdown section for release notes. */
  changelog?: string;
}

/**
 * What changed from one bundle to another (any of the three forms each; a delta's bundle.json lists every
 * artifact, so deltas compare like full bundles). Differences are the answer, not an error.
 */
export async function diffCommand(o: { old: string; new: string; changelog?: boolean }): Promise<DiffResult> {
  const [a, b] = await Promise.all([loadBundle(o.old), loadBundle(o.new)]);
  const d = diffBundles(
    { location: a.location, index: a.index, indexSha256: a.indexSha256 },
    { location: b.location, index: b.index, indexSha256: b.indexSha256 },
  );
  return { ...d, text: diffText(d), ...(o.changelog ? { changelog: changelogMarkdown(d) } : {}) };
}
