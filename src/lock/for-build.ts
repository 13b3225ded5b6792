import { dirname, relative, resolve } from 'node:path';
import { type Lock, defaultLockPath, probeStale, readLock, withProbe, writeLock } from './lock.js';
import { relock, resolveLock } from './resolve.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import { type LoadedProbe, checkProbeTarget, loadProbe, withBox } from '../probe/load.js';
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

/** `vault-bundle lock`: resolves every artifact of the manifest (for the probed box, if any) and writes the lock atomically. */
export async function lockManifest(o: LockOptions, ctxFor: (m: LoadedManifest) => BuildCtx): Promise<{ path: string; lock: Lock }> {
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
  return probe ? withBox(ctx, probe.probe) : ctx;
}

/**
 * The lock a build uses: the existing one when it matches the manifest; a fresh one when there is none. When
 * the manifest changed since it was locked, the lock is made again, keeping the artifacts of every section
 * that did not change (cargo's and npm's way: editing the manifest, e.g. correcting a sha256 after a failed
 * build, needs no separate `lock`). `frozen` (--locked, --frozen) resolves nothing and refuses a missing or
 * stale lock instead. A lock made for an empty box is locked again for the box of --target (not with
 * --locked/--frozen); one made for another box (--target) is refused either way: it is that box's.
 */
export async function lockForBuild(
  m: LoadedManifest,
  o: { lockPath?: string; frozen: boolean; now?: Date; probe?: LoadedProbe },
  ctx: BuildCtx,
): Promise<{ lock: Lock; path: string; resolved: boolean }> {
  const path = resolve(o.lockPath ?? defaultLockPath(m.path));
  const target = o.probe ? ` --target ${relative(process.cwd(), o.probe.path) || o.probe.path}` : '';
  const shown = relative(process.cwd(), path) || path;
  let previous: Lock | undefined;
  if (await exists(path)) {
    const lock = await readLock(path);
    const stale = probeStale(lock, o.probe?.ref);
    if (stale && !lock.target.probe && o.probe && !o.frozen) {
      // A lock for an empty box (what a plain build made) and now the probe of a real box: nothing in it holds
      // for that box (apt, pip and hf all leave out what the box has), so it is resolved anew for it.
      const r = await relock(m, forBox(ctx, o.probe), o.now ?? new Date(), dirname(path));
      ctx.report({ type: 'info', message: `${shown}: it was resolved for an empty box; locked again for the probe of ${o.probe.probe.hostname} (--target)` });
      const fresh = withProbe(r.lock, o.probe.ref);
      await writeLock(path, fresh);
      return { lock: fresh, path, resolved: true };
    }
    if (stale) {
      throw new ManifestError({
        code: 'LOCK_STALE',
        message: `${shown} does not fit this build: ${stale}`,
        subject: path,
        hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" (or give another --lock), then build`,
      });
    }
    if (lock.manifest.inputsDigest === m.inputsDigest) return { lock, path, resolved: false };
    if (o.frozen) {
      throw new ManifestError({
        code: 'LOCK_STALE',
        message: `${shown} does not match ${relative(process.cwd(), m.path)}: the manifest changed since it was locked (--locked/--frozen resolves nothing)`,
        subject: path,
        hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" to resolve it again, or build without --locked/--frozen (which re-locks)`,
      });
    }
    previous = lock;
  } else if (o.frozen) {
    throw new ManifestError({
      code: 'LOCK_MISSING',
      message: `--locked/--frozen needs a lock, and ${shown} does not exist`,
      subject: path,
      hint: `run "vault-bundle lock ${relative(process.cwd(), m.path)}${target}" first`,
    });
  }
  const r = await relock(m, forBox(ctx, o.probe), o.now ?? new Date(), dirname(path), previous);
  if (previous) {
    ctx.report({
      type: 'info',
      message: `${shown}: the manifest changed since it was locked; locked again${r.kept.length ? ` (pins of unchanged sections kept: ${r.kept.join(', ')})` : ''}`,
    });
  }
  const lock = withProbe(r.lock, o.probe?.ref);
  await writeLock(path, lock);
  return { lock, path, resolved: true };
}
