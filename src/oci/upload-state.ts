import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { UploadState } from './registry.js';

/** Upload locations of unfinished chunked uploads, one small file per registry, repository and digest, under `dir`. */
export function uploadStateIn(dir: string, registry: string, repository: string): UploadState {
  const file = (digest: string) => join(dir, `${createHash('sha256').update(`${registry}/${repository}@${digest}`).digest('hex')}.json`);
  return {
    async load(digest) {
      try {
        return (JSON.parse(await readFile(file(digest), 'utf8')) as { location?: string }).location;
      } catch {
        return undefined;
      }
    },
    async save(digest, location) {
      await writeFileAtomic(file(digest), JSON.stringify({ registry, repository, digest, location }));
    },
    async drop(digest) {
      await rm(file(digest), { force: true });
    },
  };
}
