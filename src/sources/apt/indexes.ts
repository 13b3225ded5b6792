import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { fetchSmall, openUrl } from '../../fetch/open.js';
import { digestOf } from '../../store/digest.js';
import { UpstreamError, isAbort } from '../../util/errors.js';
import { passedThrough } from '../../util/gc.js';
import type { BuildCtx } from '../source.js';
import { fetchRelease, type VerifiedRelease } from './release.js';
import type { TrustedRepo } from './repos.js';
import type { IndexRef } from './types.js';
import { xzDecompressed } from './xz.js';

/** A Packages index located through a verified Release: its bytes are in the store under `sha256`. */
export interface FetchedIndex {
  ref: IndexRef;
  /** Store path of the (compressed) index file. */
  blob: string;
  /** Its sha256 (hex), as the signed Release gives it. */
  sha256: string;
  compression: 'gz' | 'xz' | 'none';
}

/** A flat repository ("deb uri /" or "deb uri subdir/") has no dists/ folder and no components. */
export function isFlat(suite: string): boolean {
  return suite.endsWith('/');
}

export function suiteBase(uri: string, suite: string): string {
  if (!isFlat(suite)) return `${uri}/dists/${suite}`;
  const sub = suite.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  return sub ? `${uri}/${sub}` : uri;
}

/**
 * Fetches the Release of every suite, verifies it, then fetches each Packages index it lists for the wanted
 * components and architectures by the sha256 in the verified Release (by-hash when offered) into the store.
 */
export async function fetchIndexes(repos: TrustedRepo[], architectures: string[], outer: BuildCtx): Promise<FetchedIndex[]> {
  // The first index that fails stops its siblings (their requests are aborted and awaited), so no download
  // runs on after the error has been reported and nothing rejects unobserved.
  const stop = new AbortController();
  const ctx: BuildCtx = { ...outer, signal: AbortSignal.any([outer.signal, stop.signal]) };
  const jobs: Promise<FetchedIndex[]>[] = [];
  for (const { source, keyring } of repos) {
    for (const suite of source.suites) {
      jobs.push(
        (async () => {
          const base = suiteBase(source.uri, suite);
          const subject = `apt ${source.uri} ${suite}`;
          const release = await fetchRelease((url, max) => fetchSmall(url, max, subject, ctx), base, keyring, {
            now: ctx.now,
            checkValidUntil: source.checkValidUntil,
            checkDate: source.checkDate,
            subject,
          });
          const archs = source.architectures ?? architectures;
          const wanted = indexPaths(release, isFlat(suite) ? [''] : source.components, archs, subject);
          const origin = (release.fields.Origin ?? 'debian').toLowerCase().replace(/[^a-z0-9.-]+/g, '-');
          const distro = purlDistro(release.fields.Codename ?? release.fields.Suite ?? suite);
          const pin =
            source.pin ?? (/^yes$/i.test(release.fields.NotAutomatic ?? '') ? (/^yes$/i.test(release.fields.ButAutomaticUpgrades ?? '') ? 100 : 1) : 500);
          return Promise.all(
            wanted.map(async ({ path, component, compression }) => {
              const f = release.files.get(path)!;
              const url = release.acquireByHash ? `${base}/${path.replace(/[^/]+$/, '')}by-hash/SHA256/${f.sha256}` : `${base}/${path}`;
              const digest = digestOf(f.sha256);
              const id = `${subject} ${path}`;
              await ctx.store.put({ digest, size: f.size, subject: id, pinnedBy: 'signed-index' }, openUrl(url, f.size, id, ctx, 'signed-index'));
              const ref: IndexRef = {
                uri: source.uri,
                suite,
                component,
                indexPath: path,
                releaseDigest: release.digest,
                signer: release.signer,
                vendor: origin,
                distro,
                pin,
              };
              return { ref, blob: ctx.store.path(digest), sha256: f.sha256.toLowerCase(), compression };
            }),
          );
        })(),
      );
    }
  }
  for (const j of jobs) j.catch(() => stop.abort());
  const settled = await Promise.allSettled(jobs);
  // The cause, not a sibling's abort: Ctrl-C (the outer signal) and a failed index are both reported as such.
  const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failed.length > 0) throw (outer.signal.aborted ? failed[0] : failed.find((e) => !isAbort(e))) ?? failed[0];
  return settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
}

/** Which Packages files of a Release to use: .gz (fast, zero deps), else .xz, else uncompressed. */
function indexPaths(
  release: VerifiedRelease,
  components: string[],
  archs: string[],
  subject: string,
): { path: string; component: string; compression: FetchedIndex['compression'] }[] {
  const out: { path: string; component: string; compression: FetchedIndex['compression'] }[] = [];
  // RepositoryFormat: without "No-Support-for-Architecture-all: Packages", arch all lives in binary-all.
  const allSeparate =
    !/Packages/.test(release.fields['No-Support-for-Architecture-all'] ?? '') && (release.fields.Architectures ?? '').split(/\s+/).includes('all');
  const releaseComponents = (release.fields.Components ?? '').split(/\s+/).filter(Boolean);
  for (const component of components) {
    // debian-security names its components "updates/main"; the files still live under main/.
    const known = releaseComponents.some((c) => c === component || c.endsWith(`/${component}`));
    if (component && releaseComponents.length > 0 && !known) {
      throw new UpstreamError({
        code: 'NOT_FOUND_IN_INDEX',
        message: `${subject}: the Release has no component "${component}" (it has: ${releaseComponents.join(' ')})`,
        subject,
        hint: 'fix the components of that source in the manifest',
      });
    }
    const dirs = component ? [...archs, ...(allSeparate ? ['all'] : [])].map((a) => `${component}/binary-${a}/`) : [''];
    for (const dir of dirs) {
      const stem = `${dir}Packages`;
      const pick = (['gz', 'xz', 'none'] as const).find((c) => release.files.has(c === 'none' ? stem : `${stem}.${c}`));
      if (pick) out.push({ path: pick === 'none' ? stem : `${stem}.${pick}`, component, compression: pick });
    }
  }
  if (out.length === 0) {
    throw new UpstreamError({
      code: 'NOT_FOUND_IN_INDEX',
      message: `${subject}: the Release lists no Packages index for ${archs.join(', ')}`,
      subject,
      hint: 'check the suite, components and architectures of that source',
    });
  }
  return out;
}

/** The decompressed bytes of a fetched index, streamed (the largest is 50 MB uncompressed). */
export function readIndex(ix: FetchedIndex): AsyncIterable<Buffer> {
  return released(decompressed(ix));
}

function decompressed(ix: FetchedIndex): AsyncIterable<Buffer> {
  const raw = createReadStream(ix.blob, { highWaterMark: 1 << 16 });
  if (ix.compression === 'gz') return raw.pipe(createGunzip({ chunkSize: 1 << 16 }));
  if (ix.compression === 'xz') return xzDecompressed(raw);
  return raw;
}

/** The chunks, each counted for util/gc.ts: 300 MB of dead 64 KiB buffers go as they pass, not at V8's leisure. */
async function* released(chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  for await (const c of chunks) {
    yield c;
    passedThrough(c.byteLength);
  }
}

/**
 * The purl `distro` qualifier: the release's codename (bookworm, noble), not the pocket it came from. Debian's
 * security archive names its Codename `bookworm-security`, Ubuntu's updates `noble-updates`; the purl spec and its
 * consumers (OSV, Trivy, cdxgen) expect `distro=bookworm`. The vendor (Origin) still tells backports apart.
 */
export function purlDistro(codename: string): string {
  return codename.replace(/(?:[-/](?:security|updates|backports|proposed|sloppy))+$/i, '') || codename;
}
