import { spawnSync } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { freePort, hasNginx, startNginx } from './helpers/nginx.js';
import { type SiteBundle, siteBundle } from './helpers/site-bundle.js';
import { aptFromSite, hubFromSite, pep691FromSite, pipFromSite } from './helpers/site-clients.js';

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

describe('export --site', () => {
  it("hard-links the bundle's files into a plain tree with the bundle's own checks at the top", async () => {
    const names = (await readdir(site)).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'SHA256SUMS',
        'SHA256SUMS.asc',
        'apt',
        'bundle.json',
        'files',
        'hf',
        'nginx.conf',
        'sbom.cdx.json',
        'simple',
        'site.conf',
        'wheels',
      ]),
    );
    // sha256sum -c of the bundle's own list passes on the site for what it holds under the same names.
    const sums = await readFile(join(site, 'SHA256SUMS'), 'utf8');
    const same = sums.split('\n').filter((l) => / {2}(bundle\.json|sbom\.cdx\.json|apt\/\w+|pip\/requirements\.lock)$/.test(l));
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

  it.skipIf(!hasNginx())(
    'apt-get reads the repository from nginx with one deb line, signed-by the release key, no warnings',
    async () => {
      await aptFromSite(fx, nginx.url, 'apt-nginx');
    },
    120_000,
  );

  it.skipIf(!hasNginx())(
    'pip installs every wheel with --index-url and --require-hashes, and downloads them with --find-links',
    async () => {
      await pipFromSite(fx, nginx.url, 'venv-nginx');
    },
    240_000,
  );

  it.skipIf(!hasNginx())(
    'nginx answers the simple index as PEP 691 JSON to pip (Accept), HTML by default',
    async () => {
      await pep691FromSite(fx, nginx.url, 'venv-nginx-691');
    },
    120_000,
  );

  it.skipIf(!hasNginx())(
    "@huggingface/hub lists, downloads and snapshots the bundled model from nginx, with the Hub's headers",
    async () => {
      await hubFromSite(fx, nginx.url, 'hf-nginx');
    },
    120_000,
  );
});
