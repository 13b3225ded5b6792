/**
 * npm run bench:oci: issue #18's registry targets, on the spine's deterministic data set (2 GiB), against
 * skopeo (Debian's) and Debian's docker-registry (CNCF distribution 2.8) on loopback, in the same run:
 *   - push of the bundle vs `skopeo copy oci:<its exported layout> docker://…` (each to a fresh registry):
 *     target >= 1x skopeo's speed;
 *   - re-push of the unchanged bundle: <= 1 s and 0 blob bytes;
 *   - pull into a folder vs `skopeo copy docker://… oci:DIR`: >= 1x skopeo's speed;
 *   - peak RSS of push and pull: <= 150 MB each.
 * Writes bench/results/<date>-oci-<host>.json. Environment: VAULT_BENCH_GIB (default 2), VAULT_BENCH_ROOT,
 * VAULT_BENCH_HOST.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';
import { startRegistry } from '../test/helpers/registry.js';
import { ensureDataSet } from './data.js';
import { type Measured, measure } from './measure.js';
import { type Metric, formatTable, tryExec } from './report.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const env = process.env;
const GIB = Number(env.VAULT_BENCH_GIB ?? 2) || 2;
const ROOT = resolve(env.VAULT_BENCH_ROOT ?? join(tmpdir(), 'vault-bench'));
const HOST = (env.VAULT_BENCH_HOST ?? hostname()).toLowerCase().replace(/[^a-z0-9.-]+/g, '-') || 'dev';
const log = (s: string) => process.stdout.write(`[bench:oci] ${s}\n`);

async function must(what: string, p: Promise<Measured>): Promise<Measured> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r;
}

const cli = (args: string[]) => measure(process.execPath, [CLI, ...args]);
const secs = (m: Measured) => m.wallMs / 1000;
const mb = (m: Measured) => (m.maxRssKiB ?? 0) / 1024;

async function main(): Promise<void> {
  await packScript(CLI);
  const data = ensureDataSet(ROOT, GIB, 1, log);
  const work = mkdtempSync(join(tmpdir(), 'vb-bench-oci-'));
  const metrics: Metric[] = [];
  const regs: { close(): Promise<void> }[] = [];
  try {
    const bundle = join(work, 'bundle');
    await must(
      'build',
      cli(['-q', '--cache-dir', join(work, 'cache'), 'build', data.manifest, '--out', bundle, '--lock', join(work, 'lock.json'), '--runtime', 'none']),
    );
    const layout = join(work, 'layout');
    await must('export', cli(['-q', 'export', bundle, '--oci-layout', layout, '--tag', '1']));
    const ours = await startRegistry(join(work, 'reg-ours'));
    const theirs = await startRegistry(join(work, 'reg-skopeo'));
    regs.push(ours, theirs);
    const gb = data.totalBytes / 1e9;
    const rate = (m: Measured) => `${(data.totalBytes / 1e6 / secs(m)).toFixed(0)} MB/s`;

    log('push: skopeo copy oci:layout → registry');
    const sk = await must('skopeo push', measure('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${theirs.host}/bench/b:1`]));
    log('push: vault-bundle push');
    const vp = await must('push', cli(['--json', 'push', bundle, `oci://${ours.host}/bench/b:1`]));
    log('re-push unchanged');
    const again = await must('re-push', cli(['--json', 'push', bundle, `oci://${ours.host}/bench/b:1`]));
    const againRes = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { uploadedBytes: number; seconds: number };
    const startup = await must('--version', cli(['--version']));
    log('pull: skopeo copy registry → oci:DIR');
    const skp = await must(
      'skopeo pull',
      measure('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${theirs.host}/bench/b:1`, `oci:${join(work, 'sk-pulled')}:1`]),
    );
    log('pull: vault-bundle pull');
    const vpl = await must('pull', cli(['-q', 'pull', `oci://${ours.host}/bench/b:1`, join(work, 'pulled')]));
    await must('verify pulled', cli(['-q', 'verify', join(work, 'pulled')]));

    metrics.push({
      metric: `skopeo copy oci: → registry (${gb.toFixed(2)} GB)`,
      value: secs(sk),
      unit: 's',
      display: `${secs(sk).toFixed(2)} s`,
      note: `${rate(sk)}, ${mb(sk).toFixed(0)} MB RSS`,
    });
    metrics.push({ metric: 'vault-bundle push', value: secs(vp), unit: 's', display: `${secs(vp).toFixed(2)} s`, note: rate(vp) });
    metrics.push({
      metric: 'push speed / skopeo speed',
      value: secs(sk) / secs(vp),
      unit: 'x',
      display: `${(secs(sk) / secs(vp)).toFixed(2)}x`,
      target: '>= 1x',
      pass: secs(sk) / secs(vp) >= 1,
    });
    metrics.push({ metric: 'push peak RSS', value: mb(vp), unit: 'MB', display: `${mb(vp).toFixed(0)} MB`, target: '<= 150 MB', pass: mb(vp) <= 150 });
    metrics.push({
      metric: 're-push unchanged',
      value: secs(again),
      unit: 's',
      display: `${secs(again).toFixed(2)} s`,
      target: '<= 1 s',
      pass: secs(again) <= 1,
    });
    metrics.push({
      metric: 're-push unchanged, the push itself',
      value: againRes.seconds,
      unit: 's',
      display: `${againRes.seconds.toFixed(2)} s`,
      note: `CLI start-up alone (--version): ${secs(startup).toFixed(2)} s`,
    });
    metrics.push({
      metric: 're-push blob bytes sent',
      value: againRes.uploadedBytes,
      unit: 'B',
      display: `${againRes.uploadedBytes} B`,
      target: '0 B',
      pass: againRes.uploadedBytes === 0,
    });
    metrics.push({
      metric: 'skopeo copy registry → oci:',
      value: secs(skp),
      unit: 's',
      display: `${secs(skp).toFixed(2)} s`,
      note: `${rate(skp)}, ${mb(skp).toFixed(0)} MB RSS`,
    });
    metrics.push({ metric: 'vault-bundle pull', value: secs(vpl), unit: 's', display: `${secs(vpl).toFixed(2)} s`, note: rate(vpl) });
    metrics.push({
      metric: 'pull speed / skopeo speed',
      value: secs(skp) / secs(vpl),
      unit: 'x',
      display: `${(secs(skp) / secs(vpl)).toFixed(2)}x`,
      target: '>= 1x',
      pass: secs(skp) / secs(vpl) >= 1,
    });
    metrics.push({ metric: 'pull peak RSS', value: mb(vpl), unit: 'MB', display: `${mb(vpl).toFixed(0)} MB`, target: '<= 150 MB', pass: mb(vpl) <= 150 });
    process.stdout.write(formatTable(metrics));
    const date = new Date().toISOString().slice(0, 10);
    const file = join(REPO, 'bench', 'results', `${date}-oci-${HOST}.json`);
    const versions = { skopeo: tryExec('skopeo', ['--version']), registry: tryExec('docker-registry', ['--version']) };
    writeFileSync(
      file,
      `${JSON.stringify({ schema: 'vault-bundle-bench/oci/v1', date: new Date().toISOString(), host: HOST, loadavg: loadavg(), git: tryExec('git', ['rev-parse', 'HEAD'], REPO), gib: GIB, versions, metrics }, null, 2)}\n`,
    );
    log(`wrote ${file}`);
  } finally {
    for (const r of regs) await r.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
