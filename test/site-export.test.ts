import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadFile, listFiles, snapshotDownload } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedAptOptions } from '../src/sources/apt/install.js';
import { runCli } from './helpers/cli.js';
import { freePort, hasNginx, startNginx } from './helpers/nginx.js';
import { type SiteBundle, siteBundle } from './helpers/site-bundle.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let fx: SiteBundle;
let site: string;
let nginx: Awaited<ReturnType<typeof startNginx>>;

beforeAll(async () => {
  fx = await siteBundle();
  const port = await freePort();
  site = join(fx.work, 'site');
  const r = await runCli(['export', fx.bundle, '--site', site, '--key', fx.release.pub, '--listen', `127.0.0.1:${port}`]);
  if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
  if (hasNginx()) nginx = await startNginx(site, port);
}, 180_000);
afterAll(async () => {
  await nginx?.close();
  await fx?.close();
});

/** apt with nothing of this machine's configuration: only the given sources line, its own lists and cache. */
function aptIn(work: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  // As root in a 0700 temp folder, apt's _apt sandbox user could not write the lists: download as root.
  const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
  return spawnSync('apt-get', [...isolatedAptOptions(work), ...sandbox, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
  });
}

async function aptWork(dir: string, line: string): Promise<string> {
  for (const d of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) await mkdir(join(dir, d), { recursive: true });
  await writeFile(join(dir, 'sources.list'), `${line}\n`);
  return dir;
}

/** pip with no configuration of this machine (its PIP_FIND_LINKS, pip.conf): only what the command line says. */
function pipEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIP_')));
  return { ...env, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
}

describe('export --site', () => {
  it('hard-links the bundle\'s files into a plain tree with the bundle\'s own checks at the top', async () => {
    const names = (await readdir(site)).sort();
    expect(names).toEqual(expect.arrayContaining(['SHA256SUMS', 'SHA256SUMS.asc', 'apt', 'bundle.json', 'files', 'hf', 'nginx.conf', 'sbom.cdx.json', 'simple', 'site.conf', 'wheels']));
    // sha256sum -c of the bundle's own list passes on the site for what it holds under the same names.
    const sums = await readFile(join(site, 'SHA256SUMS'), 'utf8');
    const same = sums.split('\n').filter((l) => /  (bundle\.json|sbom\.cdx\.json|apt\/\w+|pip\/requirements\.lock)$/.test(l));
    expect(same.length).toBeGreaterThan(3);
    expect(spawnSync('sha256sum', ['--strict', '-c', '-'], { cwd: site, input: `${same.join('\n')}\n` }).status).toBe(0);
    const deb = (await readdir(join(site, 'apt/blobs/sha256')))[0]!;
    expect((await stat(join(site, 'apt/blobs/sha256', deb))).ino).toBe((await stat(join(fx.bundle, 'blobs/sha256', deb))).ino);
    expect(await readFile(join(site, 'files/hello.txt'), 'utf8')).toBe('hello\n');
    // A second export into the same folder is refused, not merged.
    const again = await runCli(['export', fx.bundle, '--site', site]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already exists');
  });

  it.skipIf(!hasNginx())('apt-get reads the repository from nginx with one deb line, signed-by the release key, no warnings', async () => {
    const work = await aptWork(join(fx.work, 'apt-nginx'), `deb [signed-by=${fx.release.keyring}] ${nginx.url}/apt ./`);
    const up = aptIn(work, ['update']);
    expect(up.stderr).toBe('');
    expect(up.status).toBe(0);
    expect(up.stdout).not.toMatch(/^W:/m);
    const dl = aptIn(work, ['install', '-y', '--download-only', 'alpha']);
    expect(dl.stderr).toBe('');
    expect(dl.status).toBe(0);
    // apt checked each .deb against the signed Packages (size, SHA256) as it fetched it.
    expect(dl.stdout).toMatch(/^Get:\d+ http:\/\/127\.0\.0\.1:\d+\/apt \.\/ alpha 1\.0-1 /m);
    expect(dl.stdout).toMatch(/^Get:\d+ http:\/\/127\.0\.0\.1:\d+\/apt \.\/ beta 2\.1-1 /m);
    expect(dl.stdout).toContain('Download complete and in download only mode');
  });

  it.skipIf(!hasNginx())('pip installs every wheel with --index-url and --require-hashes, and downloads them with --find-links', async () => {
    const venv = join(fx.work, 'venv-nginx');
    execFileSync('python3', ['-m', 'venv', venv]);
    const pip = join(venv, 'bin', 'pip');
    const env = pipEnv();
    const lock = `${nginx.url}/pip/requirements.lock`;
    const i = spawnSync(pip, ['install', '--index-url', `${nginx.url}/simple/`, '--require-hashes', '-r', lock], { encoding: 'utf8', env });
    expect(i.stderr).toBe('');
    expect(i.status).toBe(0);
    const listed = execFileSync(pip, ['list', '--format', 'freeze'], { encoding: 'utf8', env });
    expect(listed).toContain('vb-alpha==1.0.0');
    expect(listed).toContain('vb-beta==2.1.0');
    const d = spawnSync(pip, ['download', '--no-index', '--find-links', `${nginx.url}/wheels/`, '--require-hashes', '-r', lock, '-d', join(fx.work, 'dl')], { encoding: 'utf8', env });
    expect(d.status, d.stderr).toBe(0);
    expect((await readdir(join(fx.work, 'dl'))).sort()).toEqual(['vb_alpha-1.0.0-py3-none-any.whl', 'vb_beta-2.1.0-py3-none-any.whl']);
  });

  it.skipIf(!hasNginx())('@huggingface/hub lists, downloads and snapshots the bundled model from nginx', async () => {
    const hubUrl = `${nginx.url}/hf`;
    const listed: string[] = [];
    for await (const f of listFiles({ repo: fx.model.repo, hubUrl, recursive: true })) listed.push(f.path);
    expect(listed.sort()).toEqual(Object.keys(fx.model.files).sort());
    const blob = await downloadFile({ repo: fx.model.repo, path: 'config.json', hubUrl });
    expect(Buffer.from(await blob!.arrayBuffer())).toEqual(fx.model.files['config.json']);
    const cacheDir = join(fx.work, 'hf-cache-nginx');
    const snap = await snapshotDownload({ repo: fx.model.repo, hubUrl, cacheDir });
    for (const [p, data] of Object.entries(fx.model.files)) expect(sha(await readFile(join(snap, p))), p).toBe(sha(data));
    // The Hub's headers on a resolve URL, never Xet's.
    const head = await fetch(`${hubUrl}/${fx.model.repo}/resolve/main/model.safetensors`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(`"${sha(fx.model.files['model.safetensors']!)}"`);
    expect(head.headers.get('x-linked-etag')).toBe(head.headers.get('etag'));
    expect(head.headers.get('x-repo-commit')).toMatch(/^[0-9a-f]{40}$/);
    expect(head.headers.get('x-linked-size')).toBe(String(fx.model.files['model.safetensors']!.length));
    expect(head.headers.get('content-length')).toBe(String(fx.model.files['model.safetensors']!.length));
    expect([...head.headers.keys()].filter((k) => k.includes('xet'))).toEqual([]);
  });
});
