import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../store/digest.js';
import { UsageError } from '../util/errors.js';
import { readLock } from './lock.js';

/** Folders never searched for locks: dependencies, VCS data, the cache itself. */
const SKIP = new Set(['node_modules', '.git', 'blobs', 'partial', 'quarantine', 'proofs']);

/**
 * Every digest that a lock file (`*.lock.json`) under `dir` names, for `cache gc --keep-locks`. A lock that
 * does not read is an error, not a lock less (its blobs would go), and so is a folder without any lock.
 */
export async function lockedDigestsIn(dir: string, depth = 8): Promise<{ locks: string[]; digests: Set<Digest> }> {
  const locks: string[] = [];
  const visit = async (d: string, left: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if (d !== dir) return; // an unreadable subfolder holds no lock we could keep anyway
      throw new UsageError({
        code: 'BAD_FLAG',
        message: `--keep-locks ${dir}: cannot read that folder (${(err as Error).message})`,
        subject: dir,
        hint: 'give the folder that holds your manifests and their .lock.json files',
      });
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory() && left > 0 && !SKIP.has(e.name)) await visit(join(d, e.name), left - 1);
      else if (e.isFile() && e.name.endsWith('.lock.json')) locks.push(join(d, e.name));
    }
  };
  await visit(dir, depth);
  if (locks.length === 0) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `--keep-locks ${dir}: no lock files (*.lock.json) there; gc would remove every cached blob`,
      subject: dir,
      hint: 'give the folder that holds your manifests and their .lock.json files (run "vault-bundle lock" first)',
    });
  }
  const digests = new Set<Digest>();
  for (const l of locks) for (const a of (await readLock(l)).artifacts) digests.add(a.digest);
  return { locks, digests };
}
