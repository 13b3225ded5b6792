import { createHash } from 'node:crypto';
import type { LoadedBundle } from '../bundle/load.js';
import type { Locked } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import { BINARY, JSON_TYPE, type SiteEntry, blobEntry, textEntry } from './plan.js';

/**
 * `hf/`: what the Hub API answers `huggingface_hub` and `@huggingface/hub` for each bundled repo at its pinned
 * commit, with `HF_ENDPOINT=http://host/hf` (the clients append `/api/…` and `/{repo}/resolve/…`):
 * - `api/{type}s/{repo}/revision/{rev}` (and `api/{type}s/{repo}` for the default branch): `sha`, `siblings`;
 * - `api/{type}s/{repo}/tree/{rev}[/{dir}]`, plain and `?recursive=true`; `paths-info/{rev}` (POST) per file;
 * - `{repo}/resolve/{rev}/{file}` (datasets under `datasets/`) with `ETag` and `X-Linked-Etag` (the cache's blob
 *   name: the LFS sha256, else the git blob sha1), `X-Repo-Commit`, `X-Linked-Size`. Never Xet headers or
 *   `xetHash`: a client told of Xet storage bypasses the mirror for the Hub's own.
 * `{rev}` is the commit and the name it was pinned from (`main` also answers as `HEAD`, the JS client's default).
 */

interface RepoAt {
  type: 'model' | 'dataset';
  repo: string;
  commit: string;
  revisions: string[];
  files: Locked[];
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(?:\/[\w.-]+)?$/;
const HEX40 = /^[0-9a-f]{40}$/;

export function hubEntries(b: LoadedBundle): { entries: SiteEntry[]; pathsInfo: Map<string, Map<string, unknown>>; repos: RepoAt[] } {
  const entries: SiteEntry[] = [];
  const pathsInfo = new Map<string, Map<string, unknown>>();
  const repos = reposOf(b.index.artifacts);
  for (const r of repos) {
    const api = `hf/api/${r.type}s/${r.repo}`;
    const lastCommit = { id: r.commit, title: `${b.index.name} ${b.index.version}`, date: b.index.created };
    const info = infoJson(r, b.index.created);
    if (r.revisions.includes('main')) entries.push(apiEntry(api, info));
    const tree = treeOf(r);
    const pi = new Map<string, unknown>();
    for (const f of r.files) pi.set(f.meta!.path!, { ...tree.items.get(f.meta!.path!)!, lastCommit });
    for (const rev of r.revisions) {
      entries.push(apiEntry(`${api}/revision/${rev}`, info));
      for (const dir of tree.dirs.keys()) {
        const at = dir ? `${api}/tree/${rev}/${dir}` : `${api}/tree/${rev}`;
        entries.push(apiEntry(at, tree.list(dir, false)));
        entries.push(apiEntry(`${at}?recursive=true`, tree.list(dir, true), `${at}/recursive.json`));
      }
      pathsInfo.set(`${r.type}s/${r.repo}/${rev}`, pi);
      for (const f of r.files) {
        const m = f.meta!;
        const e = blobEntry(b, f, `hf/${r.type === 'dataset' ? 'datasets/' : ''}${r.repo}/resolve/${rev}/${m.path}`, BINARY);
        const etag = m.etag ?? hexOf(f.digest);
        entries.push({
          ...e,
          etag,
          headers: { 'X-Repo-Commit': r.commit, 'X-Linked-Etag': `"${etag}"`, 'X-Linked-Size': String(f.size) },
        });
      }
    }
  }
  return { entries, pathsInfo, repos };
}

/** An API answer: served at its URL, exported as `<url>/index.json` (a URL may be both an answer and a folder). */
function apiEntry(url: string, body: unknown, file = `${url}/index.json`): SiteEntry {
  return textEntry(url, JSON.stringify(body), JSON_TYPE, file);
}

function reposOf(artifacts: readonly Locked[]): RepoAt[] {
  const by = new Map<string, RepoAt>();
  for (const a of artifacts) {
    const m = a.meta;
    if (a.kind !== 'hf' || !m?.repo || !m.path || !m.commit || !HEX40.test(m.commit) || !REPO_ID.test(m.repo)) continue;
    // Names the Hub's own URLs use for other things cannot be repos here.
    if (['api', 'datasets', 'spaces', 'resolve'].includes(m.repo.split('/')[0]!)) continue;
    const type = m.type === 'dataset' ? 'dataset' : 'model';
    const k = `${type}\0${m.repo}\0${m.commit}`;
    let r = by.get(k);
    if (!r) {
      const rev = m.revision && m.revision !== m.commit && /^[\w.-]+$/.test(m.revision) ? m.revision : undefined;
      const revisions = [m.commit, ...(rev ? [rev] : []), ...(rev === 'main' ? ['HEAD'] : [])];
      r = { type, repo: m.repo, commit: m.commit, revisions, files: [] };
      by.set(k, r);
    }
    if (!r.files.some((f) => f.meta!.path === m.path)) r.files.push(a);
  }
  const out = [...by.values()];
  // One repo at two commits: only the first keeps the branch names (a name must answer one commit).
  const named = new Set<string>();
  for (const r of out) {
    const key = `${r.type}\0${r.repo}`;
    if (named.has(key)) r.revisions = [r.commit];
    named.add(key);
  }
  return out;
}

function infoJson(r: RepoAt, created: string): Record<string, unknown> {
  const author = r.repo.includes('/') ? r.repo.split('/')[0] : undefined;
  return {
    _id: createHash('sha1').update(`${r.type}/${r.repo}`).digest('hex').slice(0, 24),
    id: r.repo,
    ...(r.type === 'model' ? { modelId: r.repo } : {}),
    author,
    sha: r.commit,
    lastModified: created,
    createdAt: created,
    private: false,
    gated: false,
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: [],
    siblings: r.files.map((f) => ({ rfilename: f.meta!.path! })).sort((a, b) => (a.rfilename < b.rfilename ? -1 : 1)),
    usedStorage: r.files.reduce((n, f) => n + f.size, 0),
  };
}

type TreeItem = Record<string, unknown> & { path: string };

/** The repo's git tree as the Hub lists it: files with oid, size and lfs; folders with their git tree oid. */
function treeOf(r: RepoAt): { items: Map<string, TreeItem>; dirs: Map<string, string>; list(dir: string, recursive: boolean): TreeItem[] } {
  const items = new Map<string, TreeItem>();
  for (const f of r.files) {
    const m = f.meta!;
    const sha = hexOf(f.digest);
    const lfs = m.etag === sha;
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${f.size}\n`;
    items.set(m.path!, {
      type: 'file',
      oid: m.gitOid || gitOid('blob', Buffer.from(pointer)),
      size: f.size,
      path: m.path!,
      ...(lfs ? { lfs: { oid: sha, size: f.size, pointerSize: Buffer.byteLength(pointer) } } : {}),
    });
  }
  const dirs = new Map<string, string>();
  const names = new Set<string>(['']);
  for (const p of items.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) names.add(parts.slice(0, i).join('/'));
  }
  const depth = (d: string) => (d === '' ? 0 : d.split('/').length);
  for (const dir of [...names].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1))) {
    const prefix = dir ? `${dir}/` : '';
    const kids: { name: string; mode: string; oid: string; key: string }[] = [];
    for (const [p, it] of items)
      if (p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
        kids.push({ name: p.slice(prefix.length), mode: '100644', oid: it.oid as string, key: p.slice(prefix.length) });
    for (const d of names)
      if (d && d !== dir && d.startsWith(prefix) && !d.slice(prefix.length).includes('/'))
        kids.push({ name: d.slice(prefix.length), mode: '40000', oid: dirs.get(d)!, key: `${d.slice(prefix.length)}/` });
    kids.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    dirs.set(dir, gitOid('tree', Buffer.concat(kids.map((k) => Buffer.concat([Buffer.from(`${k.mode} ${k.name}\0`), Buffer.from(k.oid, 'hex')])))));
  }
  for (const [d, oid] of dirs) if (d) items.set(d, { type: 'directory', oid, size: 0, path: d });
  return {
    items,
    dirs,
    list(dir, recursive) {
      const prefix = dir ? `${dir}/` : '';
      return [...items.values()]
        .filter((it) => it.path.startsWith(prefix) && it.path !== dir && (recursive || !it.path.slice(prefix.length).includes('/')))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
  };
}

function gitOid(kind: 'blob' | 'tree', body: Buffer): string {
  return createHash('sha1').update(`${kind} ${body.length}\0`).update(body).digest('hex');
}
