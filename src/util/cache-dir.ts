import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The shared cache of blobs: --cache-dir, else $VAULT_BUNDLE_CACHE, else the XDG cache folder. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VAULT_BUNDLE_CACHE) return resolve(env.VAULT_BUNDLE_CACHE);
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'vault-bundle');
}
