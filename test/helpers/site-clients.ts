import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadFile, listFiles, snapshotDownload } from '@huggingface/hub';
import { expect } from 'vitest';
import { isolatedAptOptions } from '../../src/sources/apt/install.js';
import type { SiteBundle } from './site-bundle.js';

/** The users' own tools against a site (nginx serving an export, or serve): each asserts what a user would see. */

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A child process that leaves the event loop free (serve may run in this very process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', fail);
    c.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

/** apt with nothing of this machine's configuration: the one documented line, its own lists and cache. */
export async function aptFromSite(fx: SiteBundle, base: string, name: string): Promise<void> {
  const work = join(fx.work, name);
  for (const d of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) await mkdir(join(work, d), { recursive: true });
  await writeFile(join(work, 'sources.list'), `deb [signed-by=${fx.release.keyring}] ${base}/apt ./\n`);
  // As root in a 0700 temp folder, apt's _apt sandbox user could not write the lists: download as root.
  const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
  const apt = (args: string[]) =>
    run('apt-get', [...isolatedAptOptions(work), ...sandbox, ...args], { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' });
  const up = await apt(['update']);
  expect(up.stderr).toBe('');
  expect(up.status).toBe(0);
  expect(up.stdout).not.toMatch(/^W:/m);
  const dl = await apt(['install', '-y', '--download-only', 'alpha']);
  expect(dl.stderr).toBe('');
  expect(dl.status).toBe(0);
  // apt checked each .deb against the signed Packages (size, SHA256) as it fetched it.
  expect(dl.stdout).toMatch(/^Get:\d+ http:\/\/127\.0\.0\.1:\d+\/apt \.\/ alpha 1\.0-1 /m);
  expect(dl.stdout).toMatch(/^Get:\d+ http:\/\/127\.0\.0\.1:\d+\/apt \.\/ beta 2\.1-1 /m);
  expect(dl.stdout).toContain('Download complete and in download only mode');
}

/** pip with no configuration of this machine (its PIP_FIND_LINKS, pip.conf): only what the command line says. */
function pipEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIP_')));
  return { ...env, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
}

export async function pipFromSite(fx: SiteBundle, base: string, name: string): Promise<void> {
  const venv = join(fx.work, name);
  expect((await run('python3', ['-m', 'venv', venv])).status).toBe(0);
  const pip = join(venv, 'bin', 'pip');
  const env = pipEnv();
  const lock = `${base}/pip/requirements.lock`;
  const i = await run(pip, ['install', '--index-url', `${base}/simple/`, '--require-hashes', '-r', lock], env);
  expect(i.stderr).toBe('');
  expect(i.status).toBe(0);
  const listed = (await run(pip, ['list', '--format', 'freeze'], env)).stdout;
  expect(listed).toContain('vb-alpha==1.0.0');
  expect(listed).toContain('vb-beta==2.1.0');
  const dl = join(venv, 'dl');
  const d = await run(pip, ['download', '--no-index', '--find-links', `${base}/wheels/`, '--require-hashes', '-r', lock, '-d', dl], env);
  expect(d.status, d.stderr).toBe(0);
  expect((await readdir(dl)).sort()).toEqual(['vb_alpha-1.0.0-py3-none-any.whl', 'vb_beta-2.1.0-py3-none-any.whl']);
}

const PIP_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

/**
 * PEP 691/700/714 from a site: the simple index answers JSON to pip's Accept (HTML stays the default, Vary: Accept),
 * each file with its sha256, size, Requires-Python and core metadata served beside it; real pip asks for JSON,
 * gets it and installs from it.
 */
export async function pep691FromSite(fx: SiteBundle, base: string, name: string): Promise<void> {
  const root = await fetch(`${base}/simple/`, { headers: { accept: PIP_ACCEPT } });
  expect(root.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
  expect(root.headers.get('vary')).toMatch(/accept/i);
  const r = (await root.json()) as { meta: Record<string, string>; projects: { name: string }[] };
  expect(r.meta['api-version']).toBe('1.1');
  expect(r.projects.map((p) => p.name)).toEqual(expect.arrayContaining(['vb-alpha', 'vb-beta']));
  const pageUrl = `${base}/simple/vb-alpha/`;
  const page = await fetch(pageUrl, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  expect(page.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
  type F = { filename: string; url: string; hashes: { sha256: string }; size: number; 'core-metadata': { sha256: string }; 'requires-python'?: string };
  const j = (await page.json()) as { name: string; versions: string[]; files: F[] };
  expect(j.name).toBe('vb-alpha');
  expect(j.versions).toEqual(['1.0.0']);
  const f = j.files.find((x) => x.filename === 'vb_alpha-1.0.0-py3-none-any.whl')!;
  const wheel = Buffer.from(await (await fetch(new URL(f.url, pageUrl))).arrayBuffer());
  expect(sha(wheel)).toBe(f.hashes.sha256);
  expect(wheel.length).toBe(f.size);
  const md = Buffer.from(await (await fetch(new URL(`${f.url}.metadata`, pageUrl))).arrayBuffer());
  expect(md.toString()).toMatch(/^Metadata-Version: /);
  expect(sha(md)).toBe(f['core-metadata'].sha256);
  expect(j.files.every((x) => x['core-metadata'].sha256 === (x as unknown as Record<string, { sha256: string }>)['dist-info-metadata']!.sha256)).toBe(true);
  // HTML stays the default (curl, browsers), with the same metadata announced (PEP 658/714).
  for (const accept of [undefined, '*/*', 'text/html']) {
    const h = await fetch(pageUrl, accept ? { headers: { accept } } : {});
    expect(h.headers.get('content-type')).toMatch(/^text\/html\b/);
    expect(await h.text()).toContain(`data-core-metadata="sha256=${f['core-metadata'].sha256}"`);
  }
  // Real pip: it sends the Accept above and reads the JSON page.
  const venv = join(fx.work, name);
  expect((await run('python3', ['-m', 'venv', venv])).status).toBe(0);
  const dl = join(venv, 'dl');
  const d = await run(join(venv, 'bin', 'pip'), ['download', '-vv', '--no-deps', '--index-url', `${base}/simple/`, 'vb-alpha==1.0.0', '-d', dl], pipEnv());
  expect(d.status, d.stderr).toBe(0);
  expect(d.stdout + d.stderr).toMatch(/Fetched page \S+\/simple\/vb-alpha\/ as application\/vnd\.pypi\.simple\.v1\+json/);
  expect(await readdir(dl)).toEqual(['vb_alpha-1.0.0-py3-none-any.whl']);
}

export async function hubFromSite(fx: SiteBundle, base: string, name: string): Promise<void> {
  const hubUrl = `${base}/hf`;
  const listed: string[] = [];
  for await (const f of listFiles({ repo: fx.model.repo, hubUrl, recursive: true })) listed.push(f.path);
  expect(listed.sort()).toEqual(Object.keys(fx.model.files).sort());
  const blob = await downloadFile({ repo: fx.model.repo, path: 'config.json', hubUrl });
  expect(Buffer.from(await blob!.arrayBuffer())).toEqual(fx.model.files['config.json']);
  const snap = await snapshotDownload({ repo: fx.model.repo, hubUrl, cacheDir: join(fx.work, name) });
  for (const [p, data] of Object.entries(fx.model.files)) expect(sha(await readFile(join(snap, p))), p).toBe(sha(data));
  // The Hub's headers on a resolve URL (what huggingface_hub's HEAD needs), never Xet's.
  const big = fx.model.files['model.safetensors']!;
  const head = await fetch(`${hubUrl}/${fx.model.repo}/resolve/main/model.safetensors`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
  expect(head.status).toBe(200);
  expect(head.headers.get('etag')).toBe(`"${sha(big)}"`);
  expect(head.headers.get('x-linked-etag')).toBe(head.headers.get('etag'));
  expect(head.headers.get('x-repo-commit')).toMatch(/^[0-9a-f]{40}$/);
  expect(head.headers.get('x-linked-size')).toBe(String(big.length));
  expect(head.headers.get('content-length')).toBe(String(big.length));
  expect([...head.headers.keys()].filter((k) => k.includes('xet'))).toEqual([]);
  // A resume: Range from an offset gives 206 and the rest.
  const part = await fetch(`${hubUrl}/${fx.model.repo}/resolve/main/model.safetensors`, { headers: { range: 'bytes=100-' } });
  expect(part.status).toBe(206);
  expect(Buffer.from(await part.arrayBuffer())).toEqual(big.subarray(100));
}
