/**
 * A Hugging Face Hub emulator on 127.0.0.1 (node:http, port 0) with the HTTP contract that both the
 * @huggingface/hub JS library (listFiles, modelInfo, pathsInfo, fileDownloadInfo, downloadFile,
 * downloadFileToCacheDir, snapshotDownload) and the Python huggingface_hub client (snapshot_download,
 * hf_hub_download) use; see shared/design/libraries.md §2 and verifier.md §7.
 *
 * Endpoints (models; datasets under /api/datasets/… and /datasets/{repo}/resolve/…):
 *   GET  /api/models/{repo}[/revision/{rev}]           → {_id, id, sha, siblings:[{rfilename}], gated, …}
 *   GET  /api/models/{repo}/tree/{rev}[/{dir}]?recursive=&expand=&cursor=  → entries, `Link: <…>; rel="next"`
 *   POST /api/models/{repo}/paths-info/{rev}           (JSON `{paths, expand}` or form `paths=…&expand=…`)
 *   GET|HEAD /{repo}/resolve/{rev}/{path}              (also /raw/): Range → 206 + Content-Range
 *   GET  /api/whoami-v2
 * What the real Hub does and this does too: `oid` of a file is the git blob sha1 of what git stores — the
 * content for a normal file, the LFS pointer text for an LFS file (whose `lfs.oid` is the sha256 of the
 * content); directory oids are git tree hashes; the commit is a real git commit hash over that tree (or the
 * one given). Resolve answers ETag = "sha256" for LFS files (plus X-Linked-Etag / X-Linked-Size), "git sha1"
 * otherwise, always X-Repo-Commit. Errors are 404 + `X-Error-Code: RepoNotFound | RevisionNotFound |
 * EntryNotFound` (+ `X-Error-Message` and a JSON `{error}` body); a gated repo lists and describes itself
 * to anyone, but its files need `Authorization: Bearer <token>`: 401 GatedRepo without one, 403 with a wrong
 * one. A private repo answers 401 RepoNotFound to everything without the token. No Xet headers are ever sent,
 * so both clients use plain HTTP downloads. Every revision of a repo serves the same files.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export type HubRepoType = 'model' | 'dataset';

export interface HubRepoSpec {
  /** 'org/name' (or a legacy one-part name such as 'gpt2'). */
  id: string;
  type?: HubRepoType;
  /** Files by repo path ('config.json', 'sub/x.json'); strings are UTF-8. */
  files?: Record<string, Uint8Array | string>;
  /** A folder whose files (read once, at start; dot-files skipped) are added to `files`. */
  dir?: string;
  /** The head commit (40 hex). Default: a git commit hash computed over the files' tree, stable per content. */
  commit?: string;
  /** Extra ref names (branches, tags) → 40-hex commit; `main` → head commit is added unless given. */
  revisions?: Record<string, string>;
  /** Gated: metadata and listings stay public, downloads need the token. true means 'manual'. */
  gated?: boolean | 'auto' | 'manual';
  /** Private: everything needs the token; without it the repo does not exist (401 RepoNotFound). */
  private?: boolean;
}

/** What one resolve answer for a path does wrong. Fields combine. */
export interface HubFault {
  /** Answer this status with this X-Error-Code (and a JSON error body) instead of the file. */
  status?: number;
  errorCode?: string;
  /** Serve these bytes as the content (ETag, X-Linked-Size and the tree keep describing the real file). */
  body?: Uint8Array;
  /** Serve the content with one byte flipped (same length, same headers). */
  corrupt?: boolean;
  /** Headers to add or replace on the answer; null removes one (e.g. `{'X-Repo-Commit': null}`). */
  headers?: Record<string, string | null>;
  /** Send the headers (with the full Content-Length) and this many body bytes, then reset the connection. */
  truncateAt?: number;
  /** Apply to HEAD requests and to the `Range: bytes=0-0` probe too (default: only to other GETs). */
  probes?: boolean;
  /** How many matching requests get the fault before it is cleared (default: all of them). */
  times?: number;
}

export interface HubOptions {
  repos: HubRepoSpec[];
  /** The token (`Authorization: Bearer …`) that opens gated and private repos. */
  token?: string;
  /** Files larger than this are LFS (default 10_000 bytes); so are the usual weight/archive extensions. */
  lfsThreshold?: number;
  /** Tree listings are paginated at this many entries with a `Link: <…>; rel="next"` header (default 1000). */
  pageSize?: number;
  /** Faults from the start; see HubServer.fault. */
  faults?: { repo: string; path: string; type?: HubRepoType; fault: HubFault }[];
}

export interface HubRequest {
  method: string;
  /** Raw request target (path and query string, as sent). */
  url: string;
  /** Decoded path, no query. */
  path: string;
  headers: IncomingHttpHeaders;
  range: string | undefined;
  /** Status answered (0 until the headers went out). */
  status: number;
  /** X-Error-Code answered, if any. */
  errorCode?: string;
}

export interface HubFileView {
  path: string;
  data: Buffer;
  size: number;
  /** git blob sha1 of the stored object (the pointer for LFS files). */
  oid: string;
  sha256: string;
  lfs?: { oid: string; size: number; pointerSize: number };
  /** What the resolve endpoint answers as ETag (without quotes): sha256 for LFS, git sha1 otherwise. */
  etag: string;
}

export interface HubRepoView {
  id: string;
  type: HubRepoType;
  commit: string;
  refs: Record<string, string>;
  files: Map<string, HubFileView>;
}

export interface HubServer {
  /** `http://127.0.0.1:<port>`: pass as `hubUrl` (JS) or HF_ENDPOINT (Python). */
  url: string;
  /** Every request, in arrival order. */
  requests: HubRequest[];
  /** A served repo as the hub describes it (commit, oids, etags). */
  repo(id: string, type?: HubRepoType): HubRepoView;
  /** Sets (or with null clears) the fault for one file's resolve answers. */
  fault(repo: string, path: string, fault: HubFault | null, type?: HubRepoType): void;
  close(): Promise<void>;
}

const LFS_EXT = /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|onnx|ot|tflite|gguf|npy|npz|pkl|pickle|model|parquet|arrow|tar|gz|tgz|zip|zst|xz|7z|bz2)$/i;

const HEX40 = /^[0-9a-f]{40}$/;

function sha1hex(data: Uint8Array | string): string {
  return createHash('sha1').update(data).digest('hex');
}

/** git object id: sha1("<kind> <len>\0" + body). */
function gitObject(kind: 'blob' | 'tree' | 'commit', body: Buffer): string {
  return sha1hex(Buffer.concat([Buffer.from(`${kind} ${body.length}\0`), body]));
}

function lfsPointer(sha256: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`);
}

function readDirFiles(root: string, rel = '', out: Record<string, Uint8Array> = {}): Record<string, Uint8Array> {
  for (const name of readdirSync(rel ? join(root, rel) : root)) {
    if (name.startsWith('.')) continue;
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(join(root, r));
    if (st.isDirectory()) readDirFiles(root, r, out);
    else if (st.isFile()) out[r] = readFileSync(join(root, r));
  }
  return out;
}

interface Repo extends HubRepoView {
  gated: false | 'auto' | 'manual';
  private: boolean;
  /** Directory path ('' = root) → its git tree oid. */
  dirs: Map<string, string>;
  lastModified: string;
  modelConfig: Record<string, unknown> | undefined;
}

const EPOCH = 1_700_000_000; // fixed commit time: same content, same commit hash

function buildRepo(spec: HubRepoSpec, lfsThreshold: number): Repo {
  const type = spec.type ?? 'model';
  const raw: Record<string, Uint8Array | string> = { ...(spec.dir ? readDirFiles(spec.dir) : {}), ...(spec.files ?? {}) };
  const files = new Map<string, HubFileView>();
  for (const path of Object.keys(raw).sort()) {
    if (!path || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`bad repo path ${JSON.stringify(path)}`);
    }
    const v = raw[path]!;
    const data = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const isLfs = data.length > 0 && (data.length > lfsThreshold || LFS_EXT.test(path));
    if (isLfs) {
      const pointer = lfsPointer(sha256, data.length);
      files.set(path, {
        path,
        data,
        size: data.length,
        sha256,
        oid: gitObject('blob', pointer),
        lfs: { oid: sha256, size: data.length, pointerSize: pointer.length },
        etag: sha256,
      });
    } else {
      const oid = gitObject('blob', data);
      files.set(path, { path, data, size: data.length, sha256, oid, etag: oid });
    }
  }
  // git tree hashes, deepest folders first.
  const dirNames = new Set<string>(['']);
  for (const p of files.keys()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirNames.add(parts.slice(0, i).join('/'));
  }
  const dirs = new Map<string, string>();
  const depth = (d: string): number => (d === '' ? 0 : d.split('/').length);
  const byDepth = [...dirNames].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
  for (const dir of byDepth) {
    const prefix = dir ? `${dir}/` : '';
    const entries: { name: string; mode: string; oid: string; sortKey: string }[] = [];
    for (const f of files.values()) {
      if (f.path.startsWith(prefix) && !f.path.slice(prefix.length).includes('/')) {
        const name = f.path.slice(prefix.length);
        entries.push({ name, mode: '100644', oid: f.oid, sortKey: name });
      }
    }
    for (const d of dirNames) {
      if (d && d.startsWith(prefix) && d !== dir && !d.slice(prefix.length).includes('/')) {
        const name = d.slice(prefix.length);
        entries.push({ name, mode: '40000', oid: dirs.get(d)!, sortKey: `${name}/` });
      }
    }
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.sortKey), Buffer.from(b.sortKey)));
    const body = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')])));
    dirs.set(dir, gitObject('tree', body));
  }
  const commit =
    spec.commit ??
    gitObject(
      'commit',
      Buffer.from(
        `tree ${dirs.get('')!}\nauthor vault-bundle <test@localhost> ${EPOCH} +0000\n` +
          `committer vault-bundle <test@localhost> ${EPOCH} +0000\n\nUpload ${type} ${spec.id}\n`,
      ),
    );
  if (!HEX40.test(commit)) throw new Error(`commit of ${spec.id} must be 40 lowercase hex`);
  const refs: Record<string, string> = { main: commit, ...(spec.revisions ?? {}) };
  for (const [k, v] of Object.entries(refs)) if (!HEX40.test(v)) throw new Error(`revision ${k} of ${spec.id}: not a 40-hex commit`);
  let modelConfig: Record<string, unknown> | undefined;
  const cfg = files.get('config.json');
  if (type === 'model' && cfg) {
    try {
      const c = JSON.parse(cfg.data.toString('utf8')) as Record<string, unknown>;
      modelConfig = { architectures: c['architectures'], model_type: c['model_type'] };
    } catch {
      modelConfig = undefined;
    }
  }
  return {
    id: spec.id,
    type,
    commit,
    refs,
    files,
    dirs,
    gated: spec.gated === true ? 'manual' : spec.gated || false,
    private: spec.private ?? false,
    lastModified: new Date(EPOCH * 1000).toISOString(),
    modelConfig,
  };
}

class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly commit?: string,
  ) {
    super(message);
  }
}

function repoKey(type: HubRepoType, id: string): string {
  return `${type}:${id}`;
}

/** Starts the emulator. Close it with `close()` (open keep-alive connections are dropped). */
export async function startHub(opts: HubOptions): Promise<HubServer> {
  const lfsThreshold = opts.lfsThreshold ?? 10_000;
  const pageSize = opts.pageSize ?? 1000;
  const repos = new Map<string, Repo>();
  for (const spec of opts.repos) {
    const r = buildRepo(spec, lfsThreshold);
    const k = repoKey(r.type, r.id);
    if (repos.has(k)) throw new Error(`repo ${k} given twice`);
    repos.set(k, r);
  }
  const faults = new Map<string, HubFault & { left: number }>();
  const faultKey = (type: HubRepoType, repo: string, path: string): string => `${repoKey(type, repo)}\0${path}`;
  const setFault = (repo: string, path: string, fault: HubFault | null, type: HubRepoType = 'model'): void => {
    if (fault) faults.set(faultKey(type, repo, path), { ...fault, left: fault.times ?? Infinity });
    else faults.delete(faultKey(type, repo, path));
  };
  for (const f of opts.faults ?? []) setFault(f.repo, f.path, f.fault, f.type);
  const requests: HubRequest[] = [];

  /** Finds the repo named by the first one or two segments; returns it and the remaining segments. */
  function findRepo(type: HubRepoType, segs: string[], verbAt?: (rest: string[]) => boolean): { repo: Repo | undefined; id: string; rest: string[] } {
    const two = segs.length >= 2 ? `${segs[0]}/${segs[1]}` : undefined;
    if (two && repos.has(repoKey(type, two))) return { repo: repos.get(repoKey(type, two)), id: two, rest: segs.slice(2) };
    if (segs[0] && repos.has(repoKey(type, segs[0]))) return { repo: repos.get(repoKey(type, segs[0])), id: segs[0], rest: segs.slice(1) };
    // Unknown repo: guess the split so the error names it.
    if (verbAt && segs.length >= 2 && verbAt(segs.slice(1)) && !verbAt(segs.slice(2))) {
      return { repo: undefined, id: segs[0] ?? '', rest: segs.slice(1) };
    }
    return { repo: undefined, id: two ?? segs[0] ?? '', rest: segs.slice(2) };
  }

  function bearer(req: IncomingMessage): string | undefined {
    const h = req.headers.authorization;
    const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
    return m?.[1]?.trim();
  }

  function checkVisible(repo: Repo | undefined, id: string, type: HubRepoType, req: IncomingMessage): asserts repo is Repo {
    if (!repo) throw new HubError(404, 'RepoNotFound', `Repository not found: ${type} ${id}`);
    if (repo.private && (opts.token === undefined || bearer(req) !== opts.token)) {
      throw new HubError(401, 'RepoNotFound', 'Repository not found');
    }
  }

  function checkGated(repo: Repo, req: IncomingMessage): void {
    if (!repo.gated) return;
    const t = bearer(req);
    if (t !== undefined && opts.token !== undefined && t === opts.token) return;
    const msg = `Access to ${repo.type} ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
    throw new HubError(t === undefined ? 401 : 403, 'GatedRepo', msg);
  }

  function resolveRev(repo: Repo, rev: string): string | undefined {
    const r = rev === 'HEAD' ? 'main' : rev;
    if (Object.hasOwn(repo.refs, r)) return repo.refs[r];
    if (HEX40.test(r) && Object.values(repo.refs).includes(r)) return r;
    return undefined;
  }

  /** Splits `rest` into a revision (the longest leading segments that name one) and the rest of the path. */
  function splitRev(repo: Repo, rest: string[]): { rev: string; commit: string | undefined; tail: string[] } {
    for (let k = rest.length; k >= 1; k--) {
      const rev = rest.slice(0, k).join('/');
      const commit = resolveRev(repo, rev);
      if (commit) return { rev, commit, tail: rest.slice(k) };
    }
    return { rev: rest[0] ?? '', commit: undefined, tail: rest.slice(1) };
  }

  function revOrThrow(repo: Repo, rest: string[]): { commit: string; tail: string[] } {
    const { rev, commit, tail } = splitRev(repo, rest);
    if (!commit) throw new HubError(404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return { commit, tail };
  }

  function entry(repo: Repo, path: string, commit: string, expand: boolean): Record<string, unknown> | undefined {
    const last = expand ? { lastCommit: { id: commit, title: `Upload ${repo.type} ${repo.id}`, date: repo.lastModified } } : {};
    const f = repo.files.get(path);
    if (f) {
      return {
        type: 'file',
        oid: f.oid,
        size: f.size,
        path,
        ...(f.lfs ? { lfs: { ...f.lfs } } : {}),
        ...last,
        // No securityFileStatus: Python's RepoFile needs its full shape (avScan, pickleImportScan…) or nothing.
      };
    }
    const d = path === '' ? undefined : repo.dirs.get(path);
    if (d) return { type: 'directory', oid: d, size: 0, path, ...last };
    return undefined;
  }

  function childrenOf(repo: Repo, dir: string, recursive: boolean): string[] {
    const prefix = dir ? `${dir}/` : '';
    const all = [...[...repo.dirs.keys()].filter((d) => d !== ''), ...repo.files.keys()].filter((p) => p.startsWith(prefix));
    const picked = recursive ? all : all.filter((p) => !p.slice(prefix.length).includes('/'));
    // The Hub lists folders before files at each level; a plain sort keeps each folder before its content.
    return picked.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  function info(repo: Repo, commit: string): Record<string, unknown> {
    const author = repo.id.includes('/') ? repo.id.split('/')[0] : undefined;
    const base: Record<string, unknown> = {
      _id: sha1hex(`${repo.type}/${repo.id}`).slice(0, 24),
      id: repo.id,
      author,
      sha: commit,
      lastModified: repo.lastModified,
      createdAt: repo.lastModified,
      private: repo.private,
      gated: repo.gated,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: [],
      siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      usedStorage: [...repo.files.values()].reduce((a, f) => a + f.size, 0),
    };
    if (repo.type === 'model') {
      Object.assign(base, { modelId: repo.id, library_name: 'transformers', pipeline_tag: 'text-generation', spaces: [] });
      if (repo.modelConfig) base['config'] = repo.modelConfig;
    }
    return base;
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += (c as Buffer).length;
      if (n > 1_000_000) throw new HubError(413, undefined, 'Request body too large');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function sendJson(res: ServerResponse, rec: HubRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const data = Buffer.from(JSON.stringify(body));
    rec.status = status;
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(data.length), ...headers });
    res.end(rec.method === 'HEAD' ? undefined : data);
  }

  function sendError(res: ServerResponse, rec: HubRequest, err: HubError): void {
    rec.errorCode = err.code;
    const headers: Record<string, string> = { 'X-Error-Message': err.message.replace(/[^\x20-\x7e]/g, '?') };
    if (err.code) headers['X-Error-Code'] = err.code;
    if (err.commit) headers['X-Repo-Commit'] = err.commit;
    sendJson(res, rec, err.status, { error: err.message }, headers);
  }

  async function api(req: IncomingMessage, res: ServerResponse, rec: HubRequest, segs: string[], query: URLSearchParams): Promise<void> {
    // segs: after /api
    if (segs[0] === 'whoami-v2') {
      const t = bearer(req);
      if (t === undefined || t !== opts.token) throw new HubError(401, undefined, 'Invalid credentials in Authorization header');
      sendJson(res, rec, 200, {
        type: 'user',
        id: 'test-user',
        name: 'test-user',
        auth: { type: 'access_token', accessToken: { displayName: 'test', role: 'read' } },
      });
      return;
    }
    const type: HubRepoType | undefined = segs[0] === 'models' ? 'model' : segs[0] === 'datasets' ? 'dataset' : undefined;
    if (!type) throw new HubError(404, undefined, "Sorry, we can't find the page you are looking for.");
    const verbs = new Set(['revision', 'tree', 'paths-info', 'refs', 'commits', 'xet-read-token']);
    const { repo, id, rest } = findRepo(type, segs.slice(1), (r) => r.length > 0 && verbs.has(r[0]!));
    checkVisible(repo, id, type, req);
    const verb = rest[0];
    if (verb === undefined || verb === 'revision') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HubError(405, undefined, 'Method not allowed');
      const { commit } = revOrThrow(repo, verb === undefined ? ['main'] : rest.slice(1));
      sendJson(res, rec, 200, info(repo, commit));
      return;
    }
    if (verb === 'tree') {
      const { commit, tail } = revOrThrow(repo, rest.slice(1));
      const dir = tail.join('/');
      if (dir !== '' && !repo.dirs.has(dir)) {
        throw new HubError(404, 'EntryNotFound', `${dir} does not exist on "${commit}"`, commit);
      }
      const recursive = ['true', '1', 'True'].includes(query.get('recursive') ?? '');
      const expand = ['true', '1', 'True'].includes(query.get('expand') ?? '');
      const all = childrenOf(repo, dir, recursive);
      const start = Number(query.get('cursor') ? Buffer.from(query.get('cursor')!, 'base64url').toString() : '0') || 0;
      const page = all.slice(start, start + pageSize).map((p) => entry(repo, p, commit, expand)!);
      const headers: Record<string, string> = {};
      if (start + pageSize < all.length) {
        const next = new URLSearchParams(query);
        next.set('cursor', Buffer.from(String(start + pageSize)).toString('base64url'));
        headers['Link'] = `<http://${req.headers.host ?? '127.0.0.1'}${rec.url.split('?')[0]}?${next.toString()}>; rel="next"`;
      }
      sendJson(res, rec, 200, page, headers);
      return;
    }
    if (verb === 'paths-info') {
      if (req.method !== 'POST') throw new HubError(405, undefined, 'Method not allowed');
      const { commit } = revOrThrow(repo, rest.slice(1));
      const body = await readBody(req);
      let paths: string[];
      let expand = false;
      if ((req.headers['content-type'] ?? '').includes('json')) {
        const j = JSON.parse(body || '{}') as { paths?: unknown; expand?: unknown };
        paths = Array.isArray(j.paths) ? j.paths.map(String) : typeof j.paths === 'string' ? [j.paths] : [];
        expand = j.expand === true || j.expand === 'true';
      } else {
        const f = new URLSearchParams(body);
        paths = f.getAll('paths');
        expand = ['true', 'True', '1'].includes(f.get('expand') ?? '');
      }
      const out = paths
        .map((p) => p.replace(/^\/+|\/+$/g, ''))
        .map((p) => entry(repo, p, commit, expand))
        .filter((e): e is Record<string, unknown> => e !== undefined);
      sendJson(res, rec, 200, out);
      return;
    }
    throw new HubError(404, undefined, "Sorry, we can't find the page you are looking for.");
  }

  function resolve(req: IncomingMessage, res: ServerResponse, rec: HubRequest, type: HubRepoType, segs: string[]): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HubError(405, undefined, 'Method not allowed');
    const isVerb = (r: string[]): boolean => r[0] === 'resolve' || r[0] === 'raw';
    const { repo, id, rest } = findRepo(type, segs, isVerb);
    if (!repo && !isVerb(rest)) throw new HubError(404, undefined, "Sorry, we can't find the page you are looking for.");
    checkVisible(repo, id, type, req);
    if (!isVerb(rest)) throw new HubError(404, undefined, "Sorry, we can't find the page you are looking for.");
    checkGated(repo, req);
    const { commit, tail } = revOrThrow(repo, rest.slice(1));
    const path = tail.join('/');
    const file = repo.files.get(path);
    if (!file) throw new HubError(404, 'EntryNotFound', 'Entry not found', commit);

    const range = req.headers.range;
    const isProbe = req.method === 'HEAD' || range === 'bytes=0-0';
    const fk = faultKey(type, repo.id, path);
    let fault = faults.get(fk);
    if (fault && isProbe && !fault.probes) fault = undefined;
    if (fault) {
      if (--fault.left <= 0) faults.delete(fk);
      if (fault.status) {
        throw new HubError(fault.status, fault.errorCode, `injected fault: ${fault.status}`, commit);
      }
    }
    let data = file.data;
    if (fault?.body) data = Buffer.from(fault.body);
    else if (fault?.corrupt && data.length > 0) {
      data = Buffer.from(data);
      const at = data.length >> 1;
      data[at] = data[at]! ^ 0xff;
    }

    const name = path.split('/').pop()!;
    const headers: Record<string, string> = {
      'Content-Type': file.lfs ? 'application/octet-stream' : 'text/plain; charset=utf-8',
      'Accept-Ranges': 'bytes',
      ETag: `"${file.etag}"`,
      'X-Repo-Commit': commit,
      'Content-Disposition': `inline; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name.replace(/["\\]/g, '_')}";`,
      'Cache-Control': 'public, max-age=3600',
    };
    if (file.lfs) {
      headers['X-Linked-Etag'] = `"${file.sha256}"`;
      headers['X-Linked-Size'] = String(file.size);
    }
    let status = 200;
    let body = data;
    const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (range && m && (m[1] !== '' || m[2] !== '')) {
      const n = data.length;
      let start: number;
      let end: number;
      if (m[1] === '') {
        start = Math.max(0, n - Number(m[2]));
        end = n - 1;
      } else {
        start = Number(m[1]);
        end = m[2] === '' ? n - 1 : Math.min(Number(m[2]), n - 1);
      }
      if (n === 0) {
        // An empty file has no byte 0: answer the whole (empty) body, still telling the size.
        headers['Content-Range'] = 'bytes */0';
      } else if (start >= n || start > end) {
        rec.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${n}`, 'Content-Length': '0', 'X-Repo-Commit': commit });
        res.end();
        return;
      } else {
        status = 206;
        body = data.subarray(start, end + 1);
        headers['Content-Range'] = `bytes ${start}-${end}/${n}`;
      }
    }
    headers['Content-Length'] = String(body.length);
    for (const [k, v] of Object.entries(fault?.headers ?? {})) {
      const key = Object.keys(headers).find((h) => h.toLowerCase() === k.toLowerCase()) ?? k;
      if (v === null) delete headers[key];
      else headers[key] = v;
    }
    rec.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (fault?.truncateAt !== undefined && fault.truncateAt < body.length) {
      res.write(body.subarray(0, fault.truncateAt), () => {
        setTimeout(() => res.socket?.resetAndDestroy(), 20);
      });
      return;
    }
    res.end(body);
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const [rawPath = '/', rawQuery = ''] = url.split('?', 2) as [string?, string?];
    let segs: string[];
    try {
      segs = rawPath
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      segs = [];
    }
    const rec: HubRequest = {
      method: req.method ?? 'GET',
      url,
      path: '/' + segs.join('/'),
      headers: req.headers,
      range: req.headers.range,
      status: 0,
    };
    requests.push(rec);
    const query = new URLSearchParams(rawQuery);
    const run = async (): Promise<void> => {
      if (segs[0] === 'api') await api(req, res, rec, segs.slice(1), query);
      else if (segs[0] === 'datasets') resolve(req, res, rec, 'dataset', segs.slice(1));
      else resolve(req, res, rec, 'model', segs);
    };
    run().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HubError) sendError(res, rec, err);
      else sendError(res, rec, new HubError(500, undefined, `internal error: ${(err as Error).message}`));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    repo(id, type = 'model') {
      const r = repos.get(repoKey(type, id));
      if (!r) throw new Error(`no repo ${type} ${id}`);
      return { id: r.id, type: r.type, commit: r.commit, refs: { ...r.refs }, files: r.files };
    },
    fault: setFault,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
