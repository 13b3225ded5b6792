import { execFile as execFileCb } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sitePlan, verifiedBundle } from '../src/site/build.js';
import { createServer } from 'node:http';
import { type RunningSite, serveSite } from '../src/site/server.js';
import { REPO } from './helpers/cli.js';
import { type SiteBundle, siteBundle } from './helpers/site-bundle.js';
import { tempDir } from './helpers/tmp.js';

const execFile = promisify(execFileCb);

/**
 * The rollout role's served-bundle pull (roles/rollout/files/pull-served.py, what `rollout_url` runs on a box
 * with Python's standard library only) against a real `serve`: the whole signed bundle the first time, nothing
 * but SHA256SUMS the second, one damaged file again, and a SHA256SUMS that names a path outside the folder refused.
 */
const SCRIPT = join(REPO, 'ansible/collections/ansible_collections/vault_ai/bundle/roles/rollout/files/pull-served.py');
let fx: SiteBundle;
let site: RunningSite;

beforeAll(async () => {
  fx = await siteBundle();
  const b = await verifiedBundle(fx.bundle, { key: fx.release.pub });
  site = await serveSite(b, await sitePlan(b), { host: '127.0.0.1', port: 0 });
}, 180_000);

afterAll(async () => {
  await site?.drain(100);
  await fx?.close();
});

const pull = (url: string, dest: string, ...more: string[]) =>
  execFile('python3', [SCRIPT, url, dest, ...more]).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out[relative(dir, join(d, e.name))] = (await readFile(join(d, e.name))).toString('base64');
    }
  };
  await walk(dir);
  return out;
}

describe('pull-served.py (rollout_url)', () => {
  it('pulls the bundle byte for byte, then only what is missing or damaged; check mode writes nothing', async () => {
    const dest = join(await tempDir(), 'bundle');
    const look = await pull(site.url, dest, '--check');
    expect(look.code, look.err).toBe(0);
    expect(JSON.parse(look.out)).toMatchObject({ changed: true, kept: 0 });
    await expect(readdir(dest)).rejects.toThrow();
    const first = await pull(`${site.url}/`, dest);
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ changed: true, kept: 0 });
    // Every file of the bundle SHA256SUMS lists, SHA256SUMS and its signature, and nothing else (no .part left).
    const want = await files(fx.bundle);
    const got = await files(dest);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [p, v] of Object.entries(got)) expect(v, p).toBe(want[p]);
    expect(Object.keys(got)).toContain('SHA256SUMS.asc');
    const again = await pull(site.url, dest);
    expect(JSON.parse(again.out)).toEqual({ changed: false, fetched: 0, kept: JSON.parse(first.out).fetched });
    const victim = Object.keys(got).find((p) => p.startsWith('blobs/'))!;
    await writeFile(join(dest, victim), 'damaged');
    const mend = await pull(site.url, dest);
    expect(JSON.parse(mend.out)).toMatchObject({ changed: true, fetched: 1 });
    expect((await readFile(join(dest, victim))).toString('base64')).toBe(want[victim]);
  });

  it('refuses a SHA256SUMS naming a path outside the folder, and a file whose bytes do not match, with one line', async () => {
    const dir = await tempDir();
    // A plain HTTP server is enough to play a hostile site.
    let sums = `${'0'.repeat(64)}  ../escape\n`;
    const srv = createServer((req, res) => {
      if (req.url === '/bundle/SHA256SUMS') res.end(sums);
      else if (req.url === '/bundle/a.txt') res.end('not what SHA256SUMS says');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const r = await pull(`http://127.0.0.1:${port}`, join(dir, 'b'));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^error: pull from http:\/\/127\.0\.0\.1:\d+ failed: SHA256SUMS lists a path outside the bundle: '\.\.\/escape'\n$/);
      sums = `${'0'.repeat(64)}  a.txt\n`;
      const bad = await pull(`http://127.0.0.1:${port}`, join(dir, 'b'));
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/failed: http:\/\/127\.0\.0\.1:\d+\/bundle\/a\.txt: sha256 [0-9a-f]{64}, SHA256SUMS says 0{64}\n$/);
      // Nothing of it stays: no a.txt, no a.txt.part, no SHA256SUMS claiming a complete folder.
      expect(await readdir(join(dir, 'b'))).toEqual([]);
    } finally {
      srv.close();
    }
  });
});
