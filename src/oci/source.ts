import { type ClientOptions, RegistryClient } from './client.js';
import { layoutSource } from './layout.js';
import type { BlobSource } from './pull.js';
import { isLayoutRef, parseLayoutRef, parseRef, refString, refTarget } from './ref.js';
import { getBlob, getManifest } from './registry.js';

export function registrySource(c: RegistryClient): BlobSource {
  return {
    describe: refString(c.ref),
    async manifest() {
      const m = await getManifest(c, refTarget(c.ref));
      // Only a digest the user named is binding; a tag's digest header is the registry's word.
      return { bytes: m.bytes, ...(c.ref.digest ? { digest: c.ref.digest } : {}) };
    },
    blob: (digest, offset) => getBlob(c, digest, offset),
  };
}

/** `oci://registry/repo:tag`, `registry/repo@sha256:…` or `oci:DIR[:tag]` as a pull source; close() when done. */
export function openSource(ref: string, o: ClientOptions): { source: BlobSource; close: () => Promise<void> } {
  if (isLayoutRef(ref)) {
    const { dir, tag } = parseLayoutRef(ref);
    return { source: layoutSource(dir, tag), close: async () => {} };
  }
  const c = new RegistryClient(parseRef(ref), o);
  return { source: registrySource(c), close: () => c.close() };
}
