import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { datasetInfo, listFiles, modelInfo } from '@huggingface/hub';
import pLimit from 'p-limit';
import { IntegrityError, ManifestError, UpstreamError } from '../../util/errors.js';
import type { BuildCtx, Locked } from '../source.js';
import { gitBlobSha1 } from './hash.js';
import { gatedHint, refuseHostile } from './hub-meta.js';
import { fetchCard, modelLicence } from './licence.js';
import { lockedFile } from './locked.js';
import { selected } from './paths.js';
import type { HfHubModel, HfSpec } from './schema.js';

/** Non-LFS files (configs, tokenizers) are fetched while locking, to learn their sha256; they are small. */
const MAX_SMALL_FILE = 32 << 20;

/** HF_TOKEN, else the token file huggingface_hub writes; sent as a header, never stored in the lock or bundle. */
export function tokenHeader(): Record<string, string> {
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

/** A file of the repo tree at the commit, as the Hub lists it. */
interface HubEntry {
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

/** What locking one Hub model needs at every step. */
interface HubRepo {
  m: HfHubModel;
  spec: HfSpec;
  endpoint: string;
  subject: string;
  fetch: typeof globalThis.fetch;
  ctx: BuildCtx;
}

/**
 * Locks a model or dataset on the Hub: the revision to its commit, the tree at that commit filtered by
 * include/exclude, each file's sha256 (LFS gives it; a small file is fetched, its git sha1 checked, and hashed).
 */
export async function resolveHub(m: HfHubModel, spec: HfSpec, endpoint: string, ctx: BuildCtx): Promise<Locked[]> {
  const r: HubRepo = { m, spec, endpoint, subject: `hf:${m.repo}`, fetch: ctx.http.fetchFor(tokenHeader()), ctx };
  const commit = await hubCommit(r);
  const entries = await hubFiles(r, commit);
  const files = entries.filter((e) => selected(e.path, m.include, m.exclude));
  if (files.length === 0)
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${r.subject}: no files at ${commit} match include/exclude`,
      subject: r.subject,
      hint: 'check the include and exclude globs',
    });
  for (const e of files) refuseHostile(e.path, r.subject);
  const card: { text?: string } = {};
  // Each non-LFS file is one more request (and one more round trip) while locking: fetch them in parallel.
  const limit = pLimit(Math.max(1, ctx.limits.concurrency));
  const settled = await Promise.allSettled(files.map((e) => limit(() => lockHubFile(r, commit, e, card))));
  // Every request has ended (no write still running); the first failure in file order is the one reported.
  const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
  const out = settled.map((x) => (x as PromiseFulfilledResult<Locked>).value);
  const readme = entries.find((e) => e.path === 'README.md');
  if (!m.license && !(readme && files.includes(readme))) {
    const base = `${endpoint}/${m.type === 'dataset' ? 'datasets/' : ''}${m.repo}/resolve/${commit}`;
    card.text = await fetchCard(readme, `${base}/README.md`, ctx, tokenHeader());
  }
  const license = modelLicence(m.license, card.text);
  if (license) for (const o of out) Object.assign(o.meta!, license);
  return out;
}

/** A Hub failure as the user's problem: not found, gated/private (HF_TOKEN), or the network. */
function hubError(r: HubRepo, err: unknown, what: string): UpstreamError {
  const { subject } = r;
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
}

/** The commit a revision names: itself when it is one, else the Hub's answer for the branch or tag. */
async function hubCommit(r: HubRepo): Promise<string> {
  const { m, endpoint, fetch, subject } = r;
  let commit = m.revision;
  if (!/^[0-9a-f]{40}$/.test(m.revision)) {
    try {
      const info =
        m.type === 'dataset'
          ? await datasetInfo({ name: m.repo, hubUrl: endpoint, revision: m.revision, fetch, additionalFields: ['sha'] })
          : await modelInfo({ name: m.repo, hubUrl: endpoint, revision: m.revision, fetch, additionalFields: ['sha'] });
      commit = (info as { sha?: string }).sha ?? '';
    } catch (err) {
      throw hubError(r, err, `revision ${m.revision}`);
    }
    if (!/^[0-9a-f]{40}$/.test(commit))
      throw new UpstreamError({ code: 'NOT_FOUND', message: `${subject}: the Hub gave no commit for ${m.revision}`, subject });
  }
  return commit;
}

/** Every file (not folder) of the repo tree at `commit`. */
async function hubFiles(r: HubRepo, commit: string): Promise<HubEntry[]> {
  const { m, endpoint, fetch } = r;
  const entries: HubEntry[] = [];
  try {
    for await (const e of listFiles({ repo: { type: m.type, name: m.repo }, revision: commit, recursive: true, hubUrl: endpoint, fetch })) {
      if (e.type !== 'file') continue;
      entries.push({ path: e.path, size: e.size, oid: e.oid ?? '', ...(e.lfs ? { lfs: { oid: e.lfs.oid, size: e.lfs.size } } : {}) });
    }
  } catch (err) {
    throw hubError(r, err, `files at ${commit}`);
  }
  return entries;
}

/**
 * One file locked: an LFS file by the sha256 the Hub lists; any other is fetched now (the Hub gives only its git
 * blob sha1), that sha1 checked, its sha256 locked and its bytes stored. The model card's license is read on the way.
 */
async function lockHubFile(r: HubRepo, commit: string, e: HubEntry, card: { text?: string }): Promise<Locked> {
  const { m, endpoint, ctx } = r;
  const base = `${endpoint}/${m.type === 'dataset' ? 'datasets/' : ''}${m.repo}/resolve/${commit}`;
  const url = `${base}/${e.path.split('/').map(encodeURIComponent).join('/')}`;
  let sha256 = e.lfs?.oid;
  let size = e.lfs?.size ?? e.size;
  if (!sha256) {
    const id = `hf:${m.repo}/${e.path}`;
    const data = await ctx.http.getBytes(url, { signal: ctx.signal, maxLength: MAX_SMALL_FILE, subject: id, headers: tokenHeader() }).catch((err: unknown) => {
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
    if (e.path === 'README.md') card.text = data.toString('utf8');
  }
  const l = lockedFile(m.repo, m.type, commit, m.revision, e.path, sha256, size, e.oid, Boolean(e.lfs), url, {
    kind: 'index-hash',
    index: `${endpoint} ${m.repo}@${commit}`,
  });
  l.meta!.home = r.spec.home;
  return l;
}
