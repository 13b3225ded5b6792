import { dirname, relative, resolve } from 'node:path';
import { type Lock, defaultLockPath, readLock, writeLock } from '../lock/lock.js';
import { resolveLock } from '../lock/resolve.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import type { BuildCtx } from '../sources/source.js';
import { ManifestError } from '../util/errors.js';
import { exists } from '../util/fs.js';

export interface LockOptions {
  manifest: string;
  out?: string;
  now?: Date;
}

export async function lockCommand(
  o: LockOptions,
  ctxFor: (m: LoadedManifest) => BuildCtx,
): Promise<{ path: string; lock: Lock }> {
  const m = await loadManifest(o.manifest);
  const path = resolve(o.out ?? defaultLockPath(m.path));
  const lock = await resolveLock(m, ctxFor(m), o.now ?? new Date(), dirname(path));
  await writeLock(path, lock);
  return { path, lock };
}

/**
 * The lock a build uses: the existing one when it matches the manifest; a fresh one when there is none
 * (unless frozen). A lock that no longer matches its manifest is refused, never silently re-resolved.
 */
export async function lockForBuild(
  m: LoadedManifest,
  o: { lockPath?: string; frozen: boolean; now?: Date },
  ctx: BuildCtx,
): Promise<{ lock: Lock; path: string; resolved: boolean }> {
  const path = resolve(o.lockPath ?? defaultLockPath(m.path));
  if (await exists(path)) {
    const lock = await readLock(path);
    if (lock.manifest.inputsDigest !== m.inputsDigest) {
      throw new ManifestError({
        code: 'LOCK_STALE',
        message: `${relative(process.cwd(), path)} does not match ${relative(process.cwd(), m.path)}: the manifest changed since it was locked`,
        subject: path,
        hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}" to resolve it again, then build`,
      });
    }
    return { lock, path, resolved: false };
  }
  if (o.frozen) {
    throw new ManifestError({
      code: 'LOCK_MISSING',
      message: `--frozen needs a lock, and ${relative(process.cwd(), path)} does not exist`,
      subject: path,
      hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}" first`,
    });
  }
  const lock = await resolveLock(m, ctx, o.now ?? new Date(), dirname(path));
  await writeLock(path, lock);
  return { lock, path, resolved: true };
}
