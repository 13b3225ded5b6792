import { resolve } from 'node:path';
import { assembleBundle } from '../bundle/assemble.js';
import { bundleCreated, makeIndex } from '../bundle/index.js';
import { writeDeterministicTar } from '../bundle/tar.js';
import { fetchAll } from '../fetch/download.js';
import type { Lock } from '../lock/lock.js';
import { type LoadedManifest, loadManifest } from '../manifest/load.js';
import { sourceFor, sources } from '../sources/registry.js';
import type { BuildCtx } from '../sources/source.js';
import { InterruptedError } from '../util/errors.js';
import { lockForBuild, targetProbe } from './lock.js';
import { VERIFY_SH, WRAPPER_SH, fieldReadme, prepareRuntime } from '../runtime/carry.js';

export interface BuildOptions {
  manifest: string;
  lock?: string;
  out?: string;
  tar?: string;
  frozen: boolean;
  concurrency: number;
  /** `host`: carry this machine's node and the packed tool (./verify works on a box without Node.js); `none`. */
  runtime?: string;
  /** A probe file of the box (`vault-bundle probe`): bundle only what that box lacks. */
  target?: string;
  now?: Date;
}

export interface BuildResult {
  dir: string;
  tar?: string;
  lockPath: string;
  lockResolved: boolean;
  lock: Lock;
  files: number;
  bytes: number;
}

export async function buildCommand(o: BuildOptions, ctxFor: (m: LoadedManifest) => BuildCtx): Promise<BuildResult> {
  const m = await loadManifest(o.manifest);
  const probe = o.target ? await targetProbe(o.target, m) : undefined;
  const ctx = ctxFor(m);
  ctx.report({ type: 'phase', phase: 'lock' });
  const { lock, path: lockPath, resolved } = await lockForBuild(
    m,
    { lockPath: o.lock, frozen: o.frozen, now: o.now, ...(probe ? { probe } : {}) },
    ctx,
  );
  ctx.report({ type: 'phase', phase: 'fetch', detail: `${lock.artifacts.length} artifacts` });
  await fetchAll(lock.artifacts, ctx, { concurrency: o.concurrency, sourceFor });
  if (ctx.signal.aborted) throw new InterruptedError();
  ctx.report({ type: 'phase', phase: 'assemble' });
  const created = bundleCreated(lock);
  const runtime = await prepareRuntime(o.runtime ?? 'none', m.manifest.target.arch, ctx.store);
  const index = makeIndex(m.manifest, lock, created, runtime);
  const out = resolve(o.out ?? `bundles/${m.manifest.name}`);
  const views: Record<string, string> = {};
  for (const s of sources) {
    const items = lock.artifacts.filter((a) => a.kind === s.kind);
    if (items.length && s.views) Object.assign(views, s.views(items));
  }
  const scripts: Record<string, string> = runtime.length
    ? { verify: VERIFY_SH, 'vault-bundle': WRAPPER_SH, 'README-FIELD.txt': fieldReadme(m.manifest.name, m.manifest.version) }
    : {};
  const r = await assembleBundle(index, ctx.store, out, { views, runtime, scripts });
  let tarPath: string | undefined;
  if (o.tar) {
    if (ctx.signal.aborted) throw new InterruptedError();
    ctx.report({ type: 'phase', phase: 'tar' });
    tarPath = resolve(o.tar);
    await writeDeterministicTar(out, tarPath, `${m.manifest.name}-${m.manifest.version}`, new Date(created));
  }
  return { dir: r.dir, ...(tarPath ? { tar: tarPath } : {}), lockPath, lockResolved: resolved, lock, files: r.files, bytes: r.bytes };
}
