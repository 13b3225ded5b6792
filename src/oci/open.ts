import { join } from 'node:path';
import type { Reporter } from '../util/events.js';
import { digestOf, hexOf } from './artifact.js';
import type { ClientOptions } from './client.js';
import { pullBundle, pulledComplete } from './pull.js';
import { isRegistryRef } from './ref.js';
import { openSource } from './source.js';

/**
 * The hook where verify and install open a bundle: `oci://registry/repo:tag|@digest` is pulled into the cache
 * (by manifest digest, so a moved tag never mixes two bundles; a second run finds it there) and that folder is
 * returned; anything else is returned as it is.
 */
export async function bundleArg(arg: string, o: ClientOptions & { cacheDir: string; concurrency: number; report: Reporter }): Promise<string> {
  if (!isRegistryRef(arg)) return arg;
  const { source, close } = openSource(arg, o);
  try {
    const m = await source.manifest();
    const dir = join(o.cacheDir, 'oci', hexOf(m.digest ?? digestOf(m.bytes)));
    if (!(await pulledComplete(dir))) await pullBundle(source, dir, { concurrency: o.concurrency, report: o.report });
    return dir;
  } finally {
    await close();
  }
}
