import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { downloadFile, downloadFileToCacheDir, fileDownloadInfo, HubApiError, listFiles, modelInfo, pathsInfo, snapshotDownload } from '@huggingface/hub';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { tinyModel, writeTinyModel } from '../tools/tiny-model/index.js';
import { startHub, type HubServer } from './helpers/hub-server.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array): string =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');

const TOKEN = 'hf_test_token_0123456789';
const model = tinyModel({ arch: 'gpt2', seed: 1 });
const files = model.files;
const dataFiles: Record<string, Buffer> = {
  'README.md': Buffer.from('---\nlicense: mit\n---\n# data\n'),
  'data/train.jsonl': Buffer.from('{"text":"hello"}\n'.repeat(900)), // > 10 KB: LFS by size
  'data/test.jsonl': Buffer.from('{"text":"bye"}\n'),
  'data/nested/empty.txt': Buffer.alloc(0),
};
const TAG_COMMIT = 'a'.repeat(40);

let hub: HubServer;
beforeAll(async () => {
  hub = await startHub({
    token: TOKEN,
    repos: [
      { id: 'acme/tiny-gpt2', files, revisions: { 'v1.0': TAG_COMMIT } },
      { id: 'acme/gated', files: { 'config.json': files['config.json']!, 'model.safetensors': files['model.safetensors']! }, gated: true },
      { id: 'acme/data', type: 'dataset', files: dataFiles },
    ],
  });
});
afterAll(async () => {
  await hub?.close();
});
beforeEach(() => {
  vi.spyOn(console, 'debug').mockImplementation(() => {}); // downloadFileToCacheDir logs every file
  hub.requests.length = 0;
});

const lib = () => ({ hubUrl: hub.url, fetch: globalThis.fetch });

async function blobOf(b: Blob | null): Promise<Buffer> {
  expect(b).not.toBeNull();
  return Buffer.from(await b!.arrayBuffer());
}

/** Every file of the snapshot: a relative symlink into blobs/, named by sha256 (LFS) or git sha1, holding the bytes. */
async function checkSnapshot(storage: string, commit: string, want: Record<string, Buffer>, lfs: Set<string>): Promise<void> {
  const snap = join(storage, 'snapshots', commit);
  for (const [path, data] of Object.entries(want)) {
    const p = join(snap, path);
    expect((await lstat(p)).isSymbolicLink(), path).toBe(true);
    const depth = path.split('/').length - 1;
    const blob = lfs.has(path) ? sha256(data) : gitSha1(data);
    expect(await readlink(p)).toBe(`${'../'.repeat(depth + 2)}blobs/${blob}`);
    expect(sha256(await readFile(p)), path).toBe(sha256(data));
  }
}

describe('hub emulator with the real @huggingface/hub 2.17.5', () => {
  it('listFiles: every file with git oid, size, and lfs {sha256} for weights', async () => {
    const entries = [];
    for await (const e of listFiles({ repo: 'acme/tiny-gpt2', recursive: true, ...lib() })) entries.push(e);
    expect(entries.map((e) => e.path)).toEqual(Object.keys(files).sort());
    for (const e of entries) {
      const data = files[e.path]!;
      expect(e.type).toBe('file');
      expect(e.size).toBe(data.length);
      if (e.path === 'model.safetensors') {
        expect(e.lfs).toMatchObject({ oid: sha256(data), size: data.length });
        // oid of an LFS file is the git blob sha1 of its pointer, as on the Hub
        const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(data)}\nsize ${data.length}\n`;
        expect(e.oid).toBe(gitSha1(Buffer.from(pointer)));
        expect(e.lfs!.pointerSize).toBe(pointer.length);
      } else {
        expect(e.lfs).toBeUndefined();
        expect(e.oid).toBe(gitSha1(data));
      }
      expect(e.xetHash).toBeUndefined();
    }
    expect(hub.requests[0]).toMatchObject({
      method: 'GET',
      url: `/api/models/acme/tiny-gpt2/tree/main?recursive=true&expand=false`,
      status: 200,
    });
  });

  it('listFiles follows Link pagination; non-recursive and sub-path listings', async () => {
    const small = await startHub({ repos: [{ id: 'acme/data', type: 'dataset', files: dataFiles }], pageSize: 2 });
    try {
      const all = [];
      for await (const e of listFiles({ repo: 'datasets/acme/data', recursive: true, hubUrl: small.url })) all.push(e);
      expect(all.map((e) => `${e.type}:${e.path}`)).toEqual([
        'file:README.md',
        'directory:data',
        'directory:data/nested',
        'file:data/nested/empty.txt',
        'file:data/test.jsonl',
        'file:data/train.jsonl',
      ]);
      expect(small.requests.filter((r) => r.url.includes('cursor=')).length).toBe(2);
      const top = [];
      for await (const e of listFiles({ repo: 'datasets/acme/data', hubUrl: small.url })) top.push(e.path);
      expect(top).toEqual(['README.md', 'data']);
      const sub = [];
      for await (const e of listFiles({ repo: 'datasets/acme/data', path: 'data', hubUrl: small.url })) sub.push(e.path);
      expect(sub).toEqual(['data/nested', 'data/test.jsonl', 'data/train.jsonl']);
      const lfs = all.find((e) => e.path === 'data/train.jsonl')!;
      expect(lfs.lfs?.oid).toBe(sha256(dataFiles['data/train.jsonl']!)); // LFS by size (> 10 KB)
    } finally {
      await small.close();
    }
  });

  it('modelInfo (revision endpoint): sha is the head commit; tags resolve; pathsInfo has lastCommit', async () => {
    const commit = hub.repo('acme/tiny-gpt2').commit;
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    const info = await modelInfo({ name: 'acme/tiny-gpt2', additionalFields: ['sha', 'filePaths'], ...lib() });
    expect(info).toMatchObject({ name: 'acme/tiny-gpt2', private: false, gated: false, sha: commit });
    expect(info.filePaths).toEqual(Object.keys(files).sort()); // from siblings[].rfilename
    expect(hub.requests[0]?.path).toBe('/api/models/acme/tiny-gpt2/revision/HEAD');
    const tagged = await modelInfo({ name: 'acme/tiny-gpt2', revision: 'v1.0', additionalFields: ['sha'], ...lib() });
    expect(tagged.sha).toBe(TAG_COMMIT);
    const byCommit = await modelInfo({ name: 'acme/tiny-gpt2', revision: commit, additionalFields: ['sha'], ...lib() });
    expect(byCommit.sha).toBe(commit);
    const bare = await (await fetch(`${hub.url}/api/models/acme/tiny-gpt2`)).json();
    expect(bare).toMatchObject({ id: 'acme/tiny-gpt2', sha: commit, config: { model_type: 'gpt2' } });

    const pi = await pathsInfo({ repo: 'acme/tiny-gpt2', paths: ['config.json', 'nope.txt'], expand: true, ...lib() });
    expect(pi).toHaveLength(1);
    expect(pi[0]).toMatchObject({ path: 'config.json', oid: gitSha1(files['config.json']!), lastCommit: { id: commit } });
  });

  it('fileDownloadInfo and downloadFile: quoted etag, size from the probe, bytes match', async () => {
    const commit = hub.repo('acme/tiny-gpt2').commit;
    const st = files['model.safetensors']!;
    const info = await fileDownloadInfo({ repo: 'acme/tiny-gpt2', path: 'model.safetensors', ...lib() });
    expect(info).toMatchObject({ size: st.length, etag: `"${sha256(st)}"` });
    expect(info!.xet).toBeUndefined();
    const probe = hub.requests[0]!;
    expect(probe).toMatchObject({ method: 'GET', range: 'bytes=0-0', status: 206 });

    for (const [path, data] of Object.entries(files)) {
      const got = await blobOf(await downloadFile({ repo: 'acme/tiny-gpt2', path, revision: commit, ...lib() }));
      expect(sha256(got), path).toBe(sha256(data));
    }
    // Headers both clients read (Python's HEAD: X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, Content-Length).
    const head = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/model.safetensors`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(
      Object.fromEntries(['etag', 'x-linked-etag', 'x-linked-size', 'x-repo-commit', 'content-length', 'accept-ranges'].map((h) => [h, head.headers.get(h)])),
    ).toEqual({
      etag: `"${sha256(st)}"`,
      'x-linked-etag': `"${sha256(st)}"`,
      'x-linked-size': String(st.length),
      'x-repo-commit': commit,
      'content-length': String(st.length),
      'accept-ranges': 'bytes',
    });
    const small = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/config.json`, { method: 'HEAD' });
    expect(small.headers.get('etag')).toBe(`"${gitSha1(files['config.json']!)}"`);
    expect(small.headers.get('x-linked-etag')).toBeNull();
    // Ranges: a middle slice, a suffix, and an unsatisfiable one.
    const mid = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/${commit}/model.safetensors`, { headers: { Range: 'bytes=100-199' } });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe(`bytes 100-199/${st.length}`);
    expect(Buffer.from(await mid.arrayBuffer())).toEqual(st.subarray(100, 200));
    const tail = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/model.safetensors`, { headers: { Range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(st.subarray(st.length - 10));
    const past = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/model.safetensors`, { headers: { Range: `bytes=${st.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${st.length}`);
  });

  it('snapshotDownload: Python-compatible cache (refs/main, snapshots/<commit> → ../../blobs/<etag>)', async () => {
    const cache = await tempDir('hub-cache');
    const commit = hub.repo('acme/tiny-gpt2').commit;
    const snap = await snapshotDownload({ repo: 'acme/tiny-gpt2', cacheDir: cache, ...lib() });
    const storage = join(cache, 'models--acme--tiny-gpt2');
    expect(snap).toBe(join(storage, 'snapshots', commit));
    expect(await readFile(join(storage, 'refs', 'main'), 'utf8')).toBe(commit);
    await checkSnapshot(storage, commit, files, new Set(['model.safetensors']));
    expect((await readdir(join(storage, 'blobs'))).sort()).toEqual(
      Object.entries(files)
        .map(([p, d]) => (p === 'model.safetensors' ? sha256(d) : gitSha1(d)))
        .sort(),
    );
    // The request sequence of libraries.md §2: revision, tree at the commit, then per file paths-info, probe, GET.
    const seq = hub.requests.map((r) => `${r.method} ${r.path}${r.range ? ` ${r.range}` : ''}`);
    expect(seq.slice(0, 2)).toEqual(['GET /api/models/acme/tiny-gpt2/revision/main', `GET /api/models/acme/tiny-gpt2/tree/${commit}`]);
    expect(seq.slice(2, 5)).toEqual([
      `POST /api/models/acme/tiny-gpt2/paths-info/${commit}`,
      `GET /acme/tiny-gpt2/resolve/${commit}/config.json bytes=0-0`,
      `GET /acme/tiny-gpt2/resolve/${commit}/config.json`,
    ]);
    expect(seq).toHaveLength(2 + 3 * Object.keys(files).length);
    expect(hub.requests.every((r) => r.status === 200 || r.status === 206)).toBe(true);

    // A second run with everything cached asks only for the revision and the tree.
    hub.requests.length = 0;
    await snapshotDownload({ repo: 'acme/tiny-gpt2', cacheDir: cache, ...lib() });
    expect(hub.requests).toHaveLength(2);

    // downloadFileToCacheDir('main') files the link under paths-info's lastCommit.id, the head commit.
    const cache2 = await tempDir('hub-cache2');
    const p = await downloadFileToCacheDir({ repo: 'acme/tiny-gpt2', path: 'config.json', cacheDir: cache2, ...lib() });
    expect(p).toBe(join(cache2, 'models--acme--tiny-gpt2', 'snapshots', commit, 'config.json'));
  });

  it('snapshotDownload of a dataset with nested folders and an empty file', async () => {
    const cache = await tempDir('hub-cache-ds');
    const commit = hub.repo('acme/data', 'dataset').commit;
    const snap = await snapshotDownload({ repo: 'datasets/acme/data', cacheDir: cache, ...lib() });
    const storage = join(cache, 'datasets--acme--data');
    expect(snap).toBe(join(storage, 'snapshots', commit));
    await checkSnapshot(storage, commit, dataFiles, new Set(['data/train.jsonl']));
    expect(hub.requests.some((r) => r.path.startsWith('/datasets/acme/data/resolve/'))).toBe(true);
    expect(hub.requests.some((r) => r.path.startsWith('/api/datasets/acme/data/revision/main'))).toBe(true);
  });

  it('gated repo: listing is public, downloads need the token (401 without, 403 wrong)', async () => {
    const info = await modelInfo({ name: 'acme/gated', ...lib() });
    expect(info.gated).toBe('manual');
    const cache = await tempDir('hub-cache-gated');
    const err = await snapshotDownload({ repo: 'acme/gated', cacheDir: cache, ...lib() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubApiError);
    expect((err as HubApiError).statusCode).toBe(401);
    expect((err as HubApiError).message).toMatch(/restricted/);
    expect(hub.requests.at(-1)?.errorCode).toBe('GatedRepo');

    const wrong = await downloadFile({ repo: 'acme/gated', path: 'config.json', accessToken: 'hf_wrong', ...lib() }).catch((e: unknown) => e);
    expect((wrong as HubApiError).statusCode).toBe(403);

    const snap = await snapshotDownload({ repo: 'acme/gated', cacheDir: cache, accessToken: TOKEN, ...lib() });
    expect(sha256(await readFile(join(snap, 'model.safetensors')))).toBe(sha256(files['model.safetensors']!));
    const resolves = hub.requests.filter((r) => r.path.startsWith('/acme/gated/resolve/') && r.status < 300);
    expect(resolves.length).toBe(4);
    expect(resolves.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("missing repo, revision and file: the library's not-found behaviour", async () => {
    const repoErr = await modelInfo({ name: 'acme/nothere', ...lib() }).catch((e: unknown) => e);
    expect(repoErr).toBeInstanceOf(HubApiError);
    expect((repoErr as HubApiError).statusCode).toBe(404);
    expect(hub.requests.at(-1)?.errorCode).toBe('RepoNotFound');
    await expect(listFiles({ repo: 'acme/nothere', ...lib() }).next()).rejects.toMatchObject({ statusCode: 404 });
    await expect(downloadFile({ repo: 'acme/nothere', path: 'config.json', ...lib() })).rejects.toMatchObject({ statusCode: 404 });

    const cache = await tempDir('hub-cache-miss');
    const revErr = await snapshotDownload({ repo: 'acme/tiny-gpt2', revision: 'v9', cacheDir: cache, ...lib() }).catch((e: unknown) => e);
    expect(revErr).toMatchObject({ statusCode: 404, message: expect.stringMatching(/Invalid rev id: v9/) });
    expect(hub.requests.at(-1)?.errorCode).toBe('RevisionNotFound');
    const unknownCommit = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/${'b'.repeat(40)}/config.json`);
    expect(unknownCommit.headers.get('x-error-code')).toBe('RevisionNotFound');

    expect(await downloadFile({ repo: 'acme/tiny-gpt2', path: 'nope.bin', ...lib() })).toBeNull();
    expect(await fileDownloadInfo({ repo: 'acme/tiny-gpt2', path: 'sub/nope.json', ...lib() })).toBeNull();
    const miss = hub.requests.at(-1)!;
    expect(miss).toMatchObject({ status: 404, errorCode: 'EntryNotFound' });
    const head = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/nope.bin`, { method: 'HEAD' });
    expect(head.headers.get('x-repo-commit')).toBe(hub.repo('acme/tiny-gpt2').commit); // Python caches .no_exist
    const body = await (await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/nope.bin`)).json();
    expect(body).toEqual({ error: 'Entry not found' });
  });

  it('faults: wrong bytes under the right headers, a cut-off body, an injected status', async () => {
    const st = files['model.safetensors']!;
    hub.fault('acme/tiny-gpt2', 'model.safetensors', { corrupt: true, times: 1 });
    const info = await fileDownloadInfo({ repo: 'acme/tiny-gpt2', path: 'model.safetensors', ...lib() });
    expect(info?.etag).toBe(`"${sha256(st)}"`); // the probe is not faulted by default
    const bad = await blobOf(await downloadFile({ repo: 'acme/tiny-gpt2', path: 'model.safetensors', downloadInfo: info!, ...lib() }));
    expect(bad.length).toBe(st.length);
    expect(sha256(bad)).not.toBe(sha256(st)); // the library does not verify: the caller must
    const good = await blobOf(await downloadFile({ repo: 'acme/tiny-gpt2', path: 'model.safetensors', ...lib() }));
    expect(sha256(good)).toBe(sha256(st)); // `times: 1` used up

    hub.fault('acme/tiny-gpt2', 'config.json', { body: Buffer.from('{"evil":true}') });
    const evil = await fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/config.json`);
    expect(evil.headers.get('etag')).toBe(`"${gitSha1(files['config.json']!)}"`);
    expect(await evil.text()).toBe('{"evil":true}');
    hub.fault('acme/tiny-gpt2', 'config.json', null);

    hub.fault('acme/tiny-gpt2', 'model.safetensors', { truncateAt: 1000 });
    await expect(fetch(`${hub.url}/acme/tiny-gpt2/resolve/main/model.safetensors`).then((r) => r.arrayBuffer())).rejects.toThrow();
    hub.fault('acme/tiny-gpt2', 'model.safetensors', { status: 503, probes: true, times: 1 });
    await expect(fileDownloadInfo({ repo: 'acme/tiny-gpt2', path: 'model.safetensors', ...lib() })).rejects.toMatchObject({ statusCode: 503 });
    hub.fault('acme/tiny-gpt2', 'model.safetensors', null);
  });

  it('on-disk repos (dir) serve the same as in-memory ones', async () => {
    const dir = await tempDir('hub-disk');
    await writeTinyModel(dir, { arch: 'opt', seed: 3 });
    const disk = await startHub({ repos: [{ id: 'acme/tiny-opt', dir }] });
    try {
      const mem = await startHub({ repos: [{ id: 'acme/tiny-opt', files: tinyModel({ arch: 'opt', seed: 3 }).files }] });
      expect(disk.repo('acme/tiny-opt').commit).toBe(mem.repo('acme/tiny-opt').commit); // commit = git hash of content
      await mem.close();
      const got = await blobOf(await downloadFile({ repo: 'acme/tiny-opt', path: 'model.safetensors', hubUrl: disk.url }));
      expect(got.equals(await readFile(join(dir, 'model.safetensors')))).toBe(true);
    } finally {
      await disk.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------------------
// The Python client, where one is installed (not on the dev/CI image; the GPU box has huggingface_hub 1.33).

async function pythonHub(): Promise<string | undefined> {
  try {
    const { stdout } = await run('python3', ['-c', 'import huggingface_hub; print(huggingface_hub.__version__)'], { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}
const pyVersion = await pythonHub();

describe.skipIf(!pyVersion)(`hub emulator with Python huggingface_hub ${pyVersion ?? '(not installed: skipped)'}`, () => {
  it('snapshot_download and hf_hub_download: same commit, same bytes, same cache layout; errors map', async () => {
    const cache = await tempDir('hub-py');
    const script = `
import json, os, sys
from huggingface_hub import HfApi, snapshot_download, hf_hub_download
out = {}
out["snap"] = snapshot_download("acme/tiny-gpt2")
out["ds"] = snapshot_download("acme/data", repo_type="dataset")
out["gated"] = snapshot_download("acme/gated", token=sys.argv[1])
api = HfApi()
out["sha"] = api.model_info("acme/tiny-gpt2").sha
out["paths_info"] = [p.path for p in api.get_paths_info("acme/tiny-gpt2", ["config.json", "model.safetensors", "nope"], expand=True)]
out["tree"] = sorted(t.path for t in api.list_repo_tree("acme/data", repo_type="dataset", recursive=True))
def err(fn):
    try:
        fn(); return None
    except Exception as e:
        return type(e).__name__
out["missing_file"] = err(lambda: hf_hub_download("acme/tiny-gpt2", "nope.bin"))
out["missing_repo"] = err(lambda: hf_hub_download("acme/nothere", "config.json"))
out["missing_rev"] = err(lambda: hf_hub_download("acme/tiny-gpt2", "config.json", revision="v9"))
# A fresh cache: with the file already cached under refs/main, Python serves it despite the 401.
out["gated_no_token"] = err(lambda: hf_hub_download("acme/gated", "config.json", token=False, cache_dir=os.path.join(os.environ["HF_HUB_CACHE"], "fresh1")))
out["gated_wrong_token"] = err(lambda: hf_hub_download("acme/gated", "config.json", token="hf_wrong", cache_dir=os.path.join(os.environ["HF_HUB_CACHE"], "fresh2")))
print(json.dumps(out))
`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: cache,
      HF_HUB_DISABLE_XET: '1',
      HF_HUB_DISABLE_TELEMETRY: '1',
      HF_HUB_DISABLE_PROGRESS_BARS: '1',
    };
    delete env['HF_TOKEN'];
    const { stdout } = await run('python3', ['-c', script, TOKEN], { env, timeout: 60_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    const commit = hub.repo('acme/tiny-gpt2').commit;
    const storage = join(cache, 'models--acme--tiny-gpt2');
    expect(out['snap']).toBe(join(storage, 'snapshots', commit));
    expect(await readFile(join(storage, 'refs', 'main'), 'utf8')).toBe(commit);
    await checkSnapshot(storage, commit, files, new Set(['model.safetensors']));
    await checkSnapshot(join(cache, 'datasets--acme--data'), hub.repo('acme/data', 'dataset').commit, dataFiles, new Set(['data/train.jsonl']));
    expect(out).toMatchObject({
      missing_file: expect.stringMatching(/EntryNotFoundError/),
      missing_repo: 'RepositoryNotFoundError',
      missing_rev: 'RevisionNotFoundError',
      gated_no_token: 'GatedRepoError',
      gated_wrong_token: 'GatedRepoError',
      sha: commit,
      paths_info: ['config.json', 'model.safetensors'], // form-encoded POST body
      tree: ['README.md', 'data', 'data/nested', 'data/nested/empty.txt', 'data/test.jsonl', 'data/train.jsonl'],
    });
  });
});
