import { join } from 'node:path';
import { type BuildOptions, buildBundle, type BuildResult } from '../../src/bundle/publish.js';
import { makeBuildCtx } from '../../src/context.js';
import type { LoadedManifest } from '../../src/manifest/load.js';
import type { BuildCtx } from '../../src/sources/source.js';
import type { VaultEvent } from '../../src/util/events.js';

/** A build context for a source's own calls (resolve, index fetches) in `dir`: a debian-12/amd64 target, its own cache, no events. */
export function testBuildCtx(dir: string, now = new Date()): BuildCtx {
  return makeBuildCtx({
    cacheDir: join(dir, 'cache'),
    report: () => {},
    signal: new AbortController().signal,
    manifestPath: 'm.yaml',
    baseDir: dir,
    target: { os: 'debian-12', arch: 'amd64' },
    now,
  });
}

/** Builds a manifest through the library with its own cache; returns the result and the events. */
export async function buildIn(
  dir: string,
  manifest: string,
  o: {
    out?: string;
    tar?: string;
    frozen?: boolean;
    cacheDir?: string;
    /** Ctrl-C as the CLI gives it. */
    signal?: AbortSignal;
    /** Called with each event as it happens (to act at a given phase). */
    onEvent?: (e: VaultEvent) => void;
  } & Pick<BuildOptions, 'media' | 'partSize' | 'base' | 'signKey'> = {},
): Promise<BuildResult & { events: VaultEvent[] }> {
  const events: VaultEvent[] = [];
  const ctxFor = (m: LoadedManifest) =>
    makeBuildCtx({
      cacheDir: o.cacheDir ?? join(dir, 'cache'),
      report: (e) => {
        events.push(e);
        o.onEvent?.(e);
      },
      signal: o.signal ?? new AbortController().signal,
      manifestPath: m.path,
      baseDir: m.dir,
      target: m.manifest.target,
    });
  const r = await buildBundle(
    {
      manifest,
      out: o.out ?? join(dir, 'out'),
      tar: o.tar,
      frozen: Boolean(o.frozen),
      concurrency: 4,
      media: o.media,
      partSize: o.partSize,
      base: o.base,
      signKey: o.signKey,
    },
    ctxFor,
  );
  return { ...r, events };
}
