import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXml } from '../src/checks/xml.js';
import { fleetCommand } from '../src/fleet/fleet.js';
import { parseExpected, thermalMax } from '../src/fleet/load.js';
import { median } from '../src/fleet/summary.js';
import { CHROMIUM, chromium, png } from './helpers/chromium.js';
import { runCli } from './helpers/cli.js';
import { REAL_RUNS, realBox, synthFleet } from './helpers/fleet-results.js';
import { tempDir } from './helpers/tmp.js';

const EVIL = 'evil<img src=x onerror="document.title=1">';

/** Four real H200 runs, one of them made 20 % slow and 12 °C hotter, a box failing verify, one never reporting. */
async function fleet(dir: string): Promise<string> {
  const results = join(dir, 'results');
  // h200-a's smoke carries its image-version stamp (an upgrade); h200-b's only in a probe's box.json (a first install).
  const stamp = { bundle: 'box-demo', bundle_digest: 'ab'.repeat(32), build_date: '2026-12-05', target: { os: 'ubuntu-24.04', arch: 'amd64' } };
  await realBox(results, 'h200-a', REAL_RUNS[0]!, {
    image: { ...stamp, version: '2026.12.1', previous_version: '2026.11.3', installed_at: '2026-12-06T00:00:00Z' },
  });
  await realBox(results, 'h200-b', REAL_RUNS[1]!);
  await writeFile(
    join(results, 'h200-b', 'box.json'),
    JSON.stringify({ imageVersion: { present: true, file: '/etc/vault-ai/image-version.json', stamp: { ...stamp, version: '2026.12.1<b>' } } }),
  );
  await realBox(results, 'h200-c', REAL_RUNS[2]!);
  await realBox(results, 'h200-slow', REAL_RUNS[0]!, { scale: { 'gpu.matmul': 0.8, 'gpu.membw': 0.8, 'nccl.allreduce': 0.8 }, hotter: 12 });
  await mkdir(join(results, EVIL));
  await writeFile(
    join(results, EVIL, 'rollout.json'),
    JSON.stringify({
      schema: 'vault-bundle/fleet-rollout/v1',
      host: EVIL,
      bundle: { name: 'box-demo', version: '0.1.0' },
      steps: [
        { step: 'copy', ok: true, changed: true },
        { step: 'verify', rc: 4, ok: false, message: 'error: blobs/sha256/ab…: BAD_DIGEST </td><script>x</script>' },
      ],
    }),
  );
  await writeFile(join(results, 'expected-hosts.txt'), 'h200-a\nh200-b\nh200-gone\n');
  return results;
}

describe('fleet report from fetched results', () => {
  it('per box status with reasons, medians, outliers 15 % below peers or hotter, boxes that did not report', async () => {
    const dir = await tempDir();
    const results = await fleet(dir);
    const r = await fleetCommand({ results, now: new Date('2026-12-06T06:00:00Z') });
    const s = r.summary;
    expect(r.exitCode).toBe(1);
    expect(s.counts).toEqual({ boxes: 6, pass: 4, fail: 1, noReport: 1, outliers: 1 });
    const by = Object.fromEntries(s.boxes.map((b) => [b.host, b]));
    expect(by['h200-gone']).toMatchObject({ status: 'no-report', reason: expect.stringMatching(/^did not report: no results folder/) });
    expect(by[EVIL]).toMatchObject({ status: 'fail', failedStep: 'verify', reason: expect.stringMatching(/^verify failed \(exit 4\): error: blobs/) });
    expect(by['h200-slow']!.outliers).toEqual(['matmul_tflops', 'membw_gbps', 'nccl_busbw_gbps', 'max_temp_c']);
    expect(by['h200-slow']!.metrics.matmul_tflops!.delta).toBeLessThanOrEqual(-0.15);
    expect(by['h200-a']).toMatchObject({ status: 'pass', outliers: [], versions: { driver: '580.159.04', cuda: '13.0', torch: '2.11.0+cu130' } });
    expect(by['h200-a']!.image).toEqual({ version: '2026.12.1', previous: '2026.11.3', bundle: 'box-demo', installedAt: '2026-12-06T00:00:00Z' });
    expect(by['h200-b']!.image).toEqual({ version: '2026.12.1<b>', bundle: 'box-demo' });
    expect(by['h200-c']!.image).toBeUndefined();
    expect(by['h200-a']!.bundle).toMatchObject({ name: 'box-demo', version: '0.1.0', digest: expect.stringMatching(/^sha256:/) });
    // The median of the matmul numbers the four reporting boxes gave (slowest GPU each).
    const mm = s.boxes.map((b) => b.metrics.matmul_tflops?.value).filter((v): v is number => v !== undefined);
    expect(mm).toHaveLength(4);
    expect(s.medians.matmul_tflops).toBe(median(mm));

    const junit = parseXml(await readFile(r.files.junit, 'utf8'));
    const suites = junit.children.filter((c) => c.name === 'testsuite');
    expect(suites.map((x) => x.attrs.name)).toEqual(s.boxes.map((b) => b.host));
    const total = (k: string) => suites.reduce((n, x) => n + Number(x.attrs[k]), 0);
    expect(Number(junit.attrs.tests)).toBe(total('tests'));
    expect(Number(junit.attrs.failures)).toBe(total('failures'));
    expect(suites.find((x) => x.attrs.name === 'h200-gone')!.attrs.errors).toBe('1');
    const props = (host: string) =>
      Object.fromEntries(
        suites
          .find((x) => x.attrs.name === host)!
          .children.find((c) => c.name === 'properties')!
          .children.map((p) => [p.attrs.name, p.attrs.value]),
      );
    expect(props('h200-a')).toMatchObject({ image_version: '2026.12.1', image_previous_version: '2026.11.3' });
    expect(suites.find((x) => x.attrs.name === 'h200-slow')!.attrs.failures).toBe('4');

    const html = await readFile(r.files.html, 'utf8');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(html).toContain('evil&lt;img src=x onerror=&quot;document.title=1&quot;&gt;');
    expect(html).toMatch(/<td class="ver" data-image="2026\.12\.1">2026\.12\.1<span class="peer" data-previous="2026\.11\.3">was 2026\.11\.3<\/span><\/td>/);
    expect(html).toContain('>2026.12.1&lt;b&gt;<span class="peer" data-previous="">first install</span>');
    expect(html.replace(/&#39;/g, "'")).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[^']+'; script-src 'none';/,
    );
  });

  it('the CLI writes the three files, prints escaped names, and --expect reads an INI inventory', async () => {
    const dir = await tempDir();
    const results = await fleet(dir);
    const inv = join(dir, 'inventory.ini');
    await writeFile(inv, '[gpu]\nh200-a ansible_host=10.0.0.1\nh200-z\n[gpu:vars]\nansible_user=root\n');
    expect(parseExpected(await readFile(inv, 'utf8'))).toEqual(['h200-a', 'h200-z']);
    const c = await runCli(['fleet', results, '--expect', inv, '--out', join(dir, 'page')]);
    expect(c.code).toBe(1);
    expect(c.stdout).toContain('fleet: 4 of 7 boxes pass, 1 fail, 2 did not report, 1 with outliers');
    expect(c.stdout).toMatch(/^ {2}NONE {2}h200-z {2}did not report/m);
    expect(c.stdout).toMatch(/^ {2}PASS {2}h200-slow .*\[outlier: matmul_tflops, membw_gbps, nccl_busbw_gbps, max_temp_c\]$/m);
    expect(JSON.parse(await readFile(join(dir, 'page', 'fleet.json'), 'utf8')).counts.boxes).toBe(7);
    const missing = await runCli(['fleet', join(dir, 'nope')]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toMatch(/^error: .*nope: cannot read the results folder \(ENOENT\)\nhint: /m);
    expect(thermalMax('timestamp,gpu,temp_c\nx,0,41\nx,1,63\nx,0,\n')).toBe(63);
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium: a screenshot with content, the outlier cells and the missing box in the DOM', async () => {
    const dir = await tempDir();
    const r = await fleetCommand({ results: await fleet(dir) });
    const url = `file://${r.files.html}`;
    const shot = join(dir, 'shot.png');
    await chromium(dir, [`--screenshot=${shot}`, '--window-size=1400,900', url]);
    const img = png(await readFile(shot));
    expect([img.width, img.height]).toEqual([1400, 900]);
    expect(new Set(img.raw).size).toBeGreaterThan(64);
    const stride = img.raw.length / img.height;
    const rows = new Set<string>();
    for (let y = 0; y < img.height; y += 10)
      rows.add(
        createHash('sha1')
          .update(img.raw.subarray(y * stride + 1, (y + 1) * stride))
          .digest('hex'),
      );
    expect(rows.size).toBeGreaterThan(30);
    const dom = await chromium(dir, ['--dump-dom', url]);
    expect(dom).toContain('<title>Fleet: 4 of 6 boxes pass</title>');
    expect([...dom.matchAll(/<tr class="status-\S+" data-host="[^"]*" data-status="(\w[\w-]*)">/g)].map((m) => m[1])).toEqual([
      'fail',
      'pass',
      'pass',
      'pass',
      'no-report',
      'pass',
    ]);
    const slow = /<tr class="status-pass" data-host="h200-slow"[\s\S]*?<\/tr>/.exec(dom)![0];
    expect([...slow.matchAll(/data-metric="(\w+)" data-outlier="true"/g)].map((m) => m[1])).toEqual([
      'matmul_tflops',
      'membw_gbps',
      'nccl_busbw_gbps',
      'max_temp_c',
    ]);
    expect(dom).not.toMatch(/<img/i);
    // The image-version column: the stamped version with the one before it, per box.
    const a = /<tr class="status-pass" data-host="h200-a"[\s\S]*?<\/tr>/.exec(dom)![0];
    expect(a).toMatch(/data-image="2026\.12\.1">2026\.12\.1<span class="peer" data-previous="2026\.11\.3">was 2026\.11\.3<\/span>/);
  });

  it('100 boxes synthesised from the real runs: medians, outliers and every box in the page', async () => {
    const dir = await tempDir();
    const results = join(dir, 'results');
    const hosts = await synthFleet(results, 100);
    const r = await fleetCommand({ results });
    expect(r.summary.counts.boxes).toBe(101);
    expect(r.summary.counts.noReport).toBe(1);
    const slow = r.summary.boxes.filter((b) => b.outliers.includes('matmul_tflops')).map((b) => b.host);
    expect(slow).toEqual(hosts.filter((_, i) => i % 7 === 6));
    const hot = r.summary.boxes.filter((b) => b.outliers.includes('max_temp_c')).map((b) => b.host);
    expect(hot).toEqual(hosts.filter((_, i) => i % 11 === 10));
    expect((await readFile(r.files.html, 'utf8')).match(/<tr class="status-/g)).toHaveLength(101);
  });
});
