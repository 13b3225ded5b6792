import { dirname, relative, resolve } from 'node:path';
import { type Lock, defaultLockPath, probeStale, readLock, withProbe, writeLock } from '../lock/lock.js';
import { resolveLock } from '../lock/resolve.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import { type LoadedProbe, checkProbeTarget, loadProbe } from '../probe/load.js';
import type { BuildCtx } from '../sources/source.js';
import { ManifestError } from '../util/errors.js';
import { exists } from '../util/fs.js';

export interface LockOptions {
  manifest: string;
  out?: string;
  /** A probe file of the box (`vault-bundle probe`): lock only what that box lacks. */
  target?: string;
  now?: Date;
}

export async function lockCommand(
  o: LockOptions,
  ctxFor: (m: LoadedManifest) => BuildCtx,
): Promise<{ path: string; lock: Lock }> {
  const m = await loadManifest(o.manifest);
  const probe = o.target ? await targetProbe(o.target, m) : undefined;
  const path = resolve(o.out ?? defaultLockPath(m.path));
  const lock = withProbe(await resolveLock(m, forBox(ctxFor(m), probe), o.now ?? new Date(), dirname(path)), probe?.ref);
  await writeLock(path, lock);
  return { path, lock };
}

/** Loads the probe given with --target and checks that it is a box of the manifest's target. */
export async function targetProbe(path: string, m: LoadedManifest): Promise<LoadedProbe> {
  const probe = await loadProbe(path);
  checkProbeTarget(probe, m.manifest.target, relative(process.cwd(), m.path) || m.path);
  return probe;
}

/** The context sources resolve in, with the probed box when there is one. */
export function forBox(ctx: BuildCtx, probe: LoadedProbe | undefined): BuildCtx {
  return probe ? { ...ctx, box: probe.probe } : ctx;
}

/**
 * The lock a build uses: the existing one when it matches the manifest; a fresh one when there is none
 * (unless frozen). A lock that no longer matches its manifest is refused, never silently re-resolved.
 */
export async function lockForBuild(
  m: LoadedManifest,
  o: { lockPath?: string; frozen: boolean; now?: Date; probe?: LoadedProbe },
  ctx: BuildCtx,
): Promise<{ lock: Lock; path: string; resolved: boolean }> {
  const path = resolve(o.lockPath ?? defaultLockPath(m.path));
  const target = o.probe ? ` --target ${relative(process.cwd(), o.probe.path) || o.probe.path}` : '';
  if (await exists(path)) {
    const lock = await readLock(path);
    if (lock.manifest.inputsDigest !== m.inputsDigest) {
      throw new ManifestError({
        code: 'LOCK_STALE',
        message: `${relative(process.cwd(), path)} does not match ${relative(process.cwd(), m.path)}: the manifest changed since it was locked`,
        subject: path,
        hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" to resolve it again, then build`,
      });
    }
    const stale = probeStale(lock, o.probe?.ref);
    if (stale) {
      throw new ManifestError({
        code: 'LOCK_STALE',
        message: `${relative(process.cwd(), path)} does not fit this build: ${stale}`,
        subject: path,
        hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" (or give another --lock), then build`,
      });
    }
    return { lock, path, resolved: false };
  }
  if (o.frozen) {
    throw new ManifestError({
      code: 'LOCK_MISSING',
      message: `--frozen needs a lock, and ${relative(process.cwd(), path)} does not exist`,
      subject: path,
      hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" first`,
    });
  }
  const lock = withProbe(await resolveLock(m, forBox(ctx, o.probe), o.now ?? new Date(), dirname(path)), o.probe?.ref);
  await writeLock(path, lock);
  return { lock, path, resolved: true };
}
