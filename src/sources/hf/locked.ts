import { PackageURL } from 'packageurl-js';
import { digestOf } from '../../store/digest.js';
import type { Locked } from '../source.js';

/** One file of a model repo at a commit, as the lock records it (from the Hub or from a local folder). */
export function lockedFile(
  repo: string,
  type: 'model' | 'dataset',
  commit: string,
  revision: string,
  path: string,
  sha256: string,
  size: number,
  gitOid: string,
  lfs: boolean,
  url: string,
  provenance: Locked['provenance'],
): Locked {
  const [ns, name] = repo.split('/') as [string, string];
  return {
    kind: 'hf',
    id: `hf:${repo}@${commit}/${path}`,
    name: `${repo}/${path}`,
    version: commit,
    digest: digestOf(sha256),
    size,
    url,
    purl: new PackageURL('huggingface', ns, name, commit).toString(),
    provenance,
    meta: {
      repo,
      type,
      commit,
      revision,
      path,
      gitOid,
      // The cache's blob name, as the Hub's ETag: the LFS sha256, else the git blob sha1.
      etag: lfs ? sha256 : gitOid,
    },
  };
}
