import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { datasetInfo, listFiles, modelInfo } from '@huggingface/hub';
import { PackageURL } from 'packageurl-js';
import pLimit from 'p-limit';
import { openUrl } from '../../fetch/open.js';
import { digestOf } from '../../store/digest.js';
import { IntegrityError, ManifestError, UpstreamError } from '../../util/errors.js';
import { walk } from '../../util/fs.js';
import type { BuildCtx, Locked, Source } from '../source.js';
import { gitBlobSha1, hashLocalFile } from './hash.js';
import { installModels, modelSpace } from './install.js';

export { gitBlobSha1 } from './hash.js';
import { selected } from './paths.js';
import { gatedHint, refuseHostile } from './hub-meta.js';
import { fetchCard, modelLicence } from './licence.js';
import { type HfHubModel, type HfLocalModel, type HfSpec, hfSchema } from './schema.js';

const PUBLIC_HUB = 'https://huggingface.co';
/** Non-LFS files (configs, tokenizers) are fetched while locking, to learn their sha256; they are small. */
const MAX_SMALL_FILE = 32 << 20;

/**
 * With a probed box (`--target`): leaves out each repo@commit that the box's HF cache (the same HF_HOME)
 * already has, every locked file in its snapshot and the ref install would write (refs/main, or the tag or
 * branch) already naming that commit, so loading by repo id there finds it as the bundle would leave it.
 */
function leaveOutCached(items: Locked[], spec: HfSpec, ctx: BuildCtx): Locked[] {
  const hf = ctx.box?.hf;
  if (!ctx.box || !hf?.present) return items;
  if (hf.home !== spec.home) {
    ctx.report({
      type: 'warn',
      message: `hf: the probe read the models in ${hf.home}, the manifest installs into ${spec.home}; every model is bundled`,
      subject: 'hf.home',
    });
    return items;
  }
  const keyOf = (type: string, repo: string, commit: string) => `${type}\0${repo}\0${commit}`;
  const box = new Map<string, { files: Set<string>; refs: Record<string, string> }>();
  for (const r of hf.repos) for (const s of r.snapshots) box.set(keyOf(r.type, r.repo, s.commit), { files: new Set(s.files), refs: r.refs });
  const groups = new Map<string, Locked[]>();
  for (const i of items) {
    const k = keyOf(i.meta!.type!, i.meta!.repo!, i.meta!.commit!);
    groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const cached = new Set<string>();
  for (const [k, group] of groups) {
    const have = box.get(k);
    const m = group[0]!.meta!;
    const ref = /^[0-9a-f]{40}$/.test(m.revision ?? '') ? 'main' : (m.revision ?? 'main');
    if (have && have.refs[ref] === m.commit && group.every((i) => have.files.has(i.meta!.path!))) cached.add(k);
  }
  if (cached.size === 0) return items;
  const names = [...cached].map((k) => k.split('\0').slice(1).join('@'));
  ctx.report({ type: 'info', message: `hf: ${hf.home} on ${ctx.box.hostname} already has ${names.join(', ')}; left out` });
  return items.filter((i) => !cached.has(keyOf(i.meta!.type!, i.meta!.repo!, i.meta!.commit!)));
}

export const hfSource: Source<HfSpec> = {
  kind: 'hf',
  section: 'hf',
  schema: hfSchema,

  async resolve(spec, ctx) {
    const endpoint = (spec.endpoint ?? process.env.HF_ENDPOINT ?? PUBLIC_HUB).replace(/\/+$/, '');
    const parts = await Promise.all(spec.models.map((m) => ('local' in m ? resolveLocal(m, spec, ctx) : resolveHub(m, spec, endpoint, ctx))));
    return leaveOutCached(parts.flat(), spec, ctx);
  },

  open(item, ctx) {
    if (item.url.startsWith('file:')) return openUrl(item.url, item.size, item.id, ctx);
    const auth = tokenHeader();
    return async (offset) => {
      const r = await ctx.http.get(item.url, { offset, signal: ctx.signal, maxLength: item.size, subject: item.id, headers: auth }).catch((err: unknown) => {
        throw gatedHint(err);
      });
      return { startedAt: r.startedAt, body: r.body };
    };
  },

  install: installModels,
  space: modelSpace,
};

/** HF_TOKEN, else the token file huggingface_hub writes; sent as a header, never stored in the lock or bundle. */
function tokenHeader(): Record<string, string> {
  const token = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN ?? readTokenFile();
  return token ? { authorization: `Bearer ${token}` } : {};
}

function readTokenFile(): string | undefined {
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  try {
    return readFileSync(process.env.HF_TOKEN_PATH ?? join(home, 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function resolveHub(m: HfHubModel, spec: HfSpec, endpoint: string, ctx: BuildCtx): Promise<Locked[]> {
  const subject = `hf:${m.repo}`;
  const fetch = ctx.http.fetchFor(tokenHeader());
  const hubErr = (err: unknown, what: string): UpstreamError => {
    const status = (err as { statusCode?: number }).statusCode;
    const gated = status === 401 || status === 403;
    return new UpstreamError({
      code: status === 404 ? 'NOT_FOUND' : gated ? 'HTTP_STATUS' : 'NETWORK',
      message: `${subject}: ${what}: ${status === 404 ? 'not found' : gated ? `access refused (HTTP ${status})` : (err as Error).message}`,
      subject,
      hint: gated
        ? 'the repository is gated or private: accept its terms on the Hub and set HF_TOKEN (or run huggingface-cli login)'
        : status === 404
          ? 'check the repository id, its type (model or dataset) and the revision'
          : 'check the network, HF_ENDPOINT and proxy settings',
      cause: err,
    });
  };
  let commit = m.revision;
  if (!/^[0-9a-f]{40}$/.test(m.revision)) {
    try {
      const info =
        m.type === 'dataset'
          ? await datasetInfo({ name: m.repo, hubUrl: endpoint, revision: m.revision, fetch, additionalFields: ['sha'] })
          : await modelInfo({ name: m.repo, hubUrl: endpoint, revision: m.revision, fetch, additionalFields: ['sha'] });
      commit = (info as { sha?: string }).sha ?? '';
    } catch (err) {
      throw hubErr(err, `revision ${m.revision}`);
    }
    if (!/^[0-9a-f]{40}$/.test(commit))
      throw new UpstreamError({ code: 'NOT_FOUND', message: `${subject}: the Hub gave no commit for ${m.revision}`, subject });
  }
  const entries: { path: string; size: number; oid: string; lfs?: { oid: string; size: number } }[] = [];
  try {
    for await (const e of listFiles({ repo: { type: m.type, name: m.repo }, revision: commit, recursive: true, hubUrl: endpoint, fetch })) {
      if (e.type !== 'file') continue;
      entries.push({ path: e.path, size: e.size, oid: e.oid ?? '', ...(e.lfs ? { lfs: { oid: e.lfs.oid, size: e.lfs.size } } : {}) });
    }
  } catch (err) {
    throw hubErr(err, `files at ${commit}`);
  }
  const base = `${endpoint}/${m.type === 'dataset' ? 'datasets/' : ''}${m.repo}/resolve/${commit}`;
  const files = entries.filter((e) => selected(e.path, m.include, m.exclude));
  if (files.length === 0)
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${subject}: no files at ${commit} match include/exclude`,
      subject,
      hint: 'check the include and exclude globs',
    });
  for (const e of files) refuseHostile(e.path, subject);
  let card: string | undefined;
  // Each non-LFS file is one more request (and one more round trip) while locking: fetch them in parallel.
  const limit = pLimit(Math.max(1, ctx.limits.concurrency));
  const settled = await Promise.allSettled(
    files.map((e) =>
      limit(async (): Promise<Locked> => {
        const url = `${base}/${e.path.split('/').map(encodeURIComponent).join('/')}`;
        let sha256 = e.lfs?.oid;
        let size = e.lfs?.size ?? e.size;
        if (!sha256) {
          // Not in LFS: the Hub gives only the git blob sha1. Fetch it now, check that sha1, and lock its sha256.
          const id = `hf:${m.repo}/${e.path}`;
          const data = await ctx.http
            .getBytes(url, { signal: ctx.signal, maxLength: MAX_SMALL_FILE, subject: id, headers: tokenHeader() })
            .catch((err: unknown) => {
              throw gatedHint(err);
            });
          const found = gitBlobSha1(data);
          if (found !== e.oid) {
            throw new IntegrityError({
              code: 'DIGEST_MISMATCH',
              message: `${id}: git blob sha1 ${found}, the Hub lists ${e.oid}`,
              subject: id,
              expected: e.oid,
              found,
            });
          }
          sha256 = createHash('sha256').update(data).digest('hex');
          size = data.length;
          await ctx.store.putBuffer(data, id);
          if (e.path === 'README.md') card = data.toString('utf8');
        }
        const l = lockedFile(m.repo, m.type, commit, m.revision, e.path, sha256, size, e.oid, Boolean(e.lfs), url, {
          kind: 'index-hash',
          index: `${endpoint} ${m.repo}@${commit}`,
        });
        l.meta!.home = spec.home;
        return l;
      }),
    ),
  );
  // Every request has ended (no write still running); the first failure in file order is the one reported.
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const out = settled.map((r) => (r as PromiseFulfilledResult<Locked>).value);
  const readme = entries.find((e) => e.path === 'README.md');
  if (!m.license && !(readme && files.includes(readme))) card = await fetchCard(readme, `${base}/README.md`, ctx, tokenHeader());
  const license = modelLicence(m.license, card);
  if (license) for (const o of out) Object.assign(o.meta!, license);
  return out;
}

async function resolveLocal(m: HfLocalModel, spec: HfSpec, ctx: BuildCtx): Promise<Locked[]> {
  const subject = `hf:${m.repo}`;
  const root = isAbsolute(m.local) ? m.local : resolvePath(ctx.baseDir, m.local);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${subject}: local folder ${root} does not exist`,
      subject,
      hint: 'point "local" at a model folder or an HF cache repo folder (models--org--name)',
    });
  }
  // An HF cache repo folder (models--org--name, or HF_HOME/hub holding one): take its snapshot.
  let dir = root;
  let commit = m.revision;
  const cacheRepo = (await stat(join(root, 'snapshots')).catch(() => undefined)) ? root : undefined;
  if (cacheRepo) {
    commit ??= (await readFile(join(cacheRepo, 'refs', 'main'), 'utf8').catch(() => '')).trim() || (await readdir(join(cacheRepo, 'snapshots')))[0];
    if (!commit) throw new ManifestError({ code: 'MANIFEST_FIELD', message: `${subject}: ${root} has no snapshot`, subject });
    dir = join(cacheRepo, 'snapshots', commit);
  }
  const found: { path: string; sha256: string; size: number; gitOid: string }[] = [];
  for (const e of await walk(dir)) {
    if (e.kind === 'dir' || e.path.split('/').some((s) => s.startsWith('.'))) continue;
    if (!selected(e.path, m.include, m.exclude)) continue;
    refuseHostile(e.path, subject);
    found.push({ path: e.path, ...(await hashLocalFile(join(dir, e.path), subject)) }); // follows a snapshot's symlinks into blobs/
  }
  if (found.length === 0) throw new ManifestError({ code: 'MANIFEST_FIELD', message: `${subject}: no files in ${dir}`, subject });
  // A plain folder has no commit: derive a stable one from its content, so a changed folder is a new revision.
  const derived = commit === undefined;
  commit ??= createHash('sha1')
    .update(found.map((f) => `${f.path}\0${f.sha256}\n`).join(''))
    .digest('hex');
  const [ns, name] = m.repo.split('/') as [string, string];
  const card = m.license ? undefined : await readFile(join(dir, 'README.md'), 'utf8').catch(() => undefined);
  const license = modelLicence(m.license, card);
  return found.map((f) => {
    const lfs = f.size > 10 << 20 || /\.(safetensors|bin|pt|pth|gguf|onnx|msgpack|h5|npz)$/.test(f.path);
    const l = lockedFile(m.repo, m.type, commit, 'main', f.path, f.sha256, f.size, f.gitOid, lfs, pathToFileURL(join(dir, f.path)).href, {
      kind: 'manifest-pin',
      manifest: ctx.manifestPath,
    });
    if (license) Object.assign(l.meta!, license);
    l.meta!.home = spec.home;
    // Nothing here came from the Hub: a huggingface purl would name a Hub commit that may not exist there.
    l.purl = new PackageURL('generic', ns, name, commit).toString();
    l.meta!.origin = 'local';
    l.meta!.versionFrom = derived ? 'files' : 'hf-cache';
    return l;
  });
}

function lockedFile(
  repo: string,
  type: 'model' | 'dataset',
  commit: string,
  revision: string,
  path: string,
  sha256: string,
  size: number,
  gitOid: string,
  lfs: boolean,
  url: string,
  provenance: Locked['provenance'],
): Locked {
  const [ns, name] = repo.split('/') as [string, string];
  return {
    kind: 'hf',
    id: `hf:${repo}@${commit}/${path}`,
    name: `${repo}/${path}`,
    version: commit,
    digest: digestOf(sha256),
    size,
    url,
    purl: new PackageURL('huggingface', ns, name, commit).toString(),
    provenance,
    meta: {
      repo,
      type,
      commit,
      revision,
      path,
      gitOid,
      // The cache's blob name, as the Hub's ETag: the LFS sha256, else the git blob sha1.
      etag: lfs ? sha256 : gitOid,
    },
  };
}
