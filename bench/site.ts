/**
 * npm run bench:site: issue #16's serve targets, against nginx serving the exported tree (the same files, the
 * same machine, one run), with wrk at 64 connections:
 *   - large-blob throughput (a VAULT_BENCH_SITE_MIB file, default 256 MiB): serve >= 0.8x nginx;
 *   - p99 latency of the index pages (SHA256SUMS, bundle.json, the PEP 503 index): serve <= 2x nginx;
 *   - serve's peak RSS (VmHWM) over the whole run: <= 150 MB.
 * Writes bench/results/<date>-site-<host>.json. Environment: VAULT_BENCH_SITE_MIB, VAULT_BENCH_SECONDS (default 8),
 * VAULT_BENCH_HOST (default: hostname). Needs nginx and wrk (Debian packages nginx-light and wrk).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';
import { type Metric, formatTable, tryExec } from './report.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const env = process.env;
const MIB = Number(env.VAULT_BENCH_SITE_MIB ?? 256) || 256;
const SECONDS = Number(env.VAULT_BENCH_SECONDS ?? 8) || 8;
const HOST = (env.VAULT_BENCH_HOST ?? hostname()).toLowerCase().replace(/[^a-z0-9.-]+/g, '-') || 'dev';
const log = (s: string) => process.stdout.write(`[bench:site] ${s}\n`);

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vault-bundle ${args[0]} failed: ${r.stderr}`);
}

/** wrk's transfer rate (bytes/s) and latency percentiles (ms). */
function wrk(url: string): { bytesPerSec: number; p99Ms: number; p50Ms: number; requests: number } {
  const r = spawnSync('wrk', ['-t4', '-c64', `-d${SECONDS}s`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const unit = (v: string, u: string, table: Record<string, number>) => Number(v) * (table[u] ?? 1);
  const ms = { us: 0.001, ms: 1, s: 1000 };
  const tr = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(r.stdout)!;
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout)!;
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(r.stdout)!;
  const req = /([\d.]+) requests in/.exec(r.stdout)!;
  return {
    bytesPerSec: unit(tr[1]!, tr[2]!, { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }),
    p99Ms: unit(p99[1]!, p99[2]!, ms),
    p50Ms: unit(p50[1]!, p50[2]!, ms),
    requests: Number(req[1]),
  };
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered`);
}

function freePortSync(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

async function main(): Promise<void> {
  await packScript(CLI);
  const work = mkdtempSync(join(tmpdir(), 'vb-bench-site-'));
  const metrics: Metric[] = [];
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const big = randomBytes(MIB * 1024 * 1024);
    writeFileSync(join(work, 'big.bin'), big);
    const m = join(work, 'm.yaml');
    writeFileSync(
      m,
      `name: bench-site\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - { name: big.bin, path: big.bin, sha256: ${createHash('sha256').update(big).digest('hex')} }\n`,
    );
    cli(['-q', '--cache-dir', join(work, 'cache'), 'build', m, '--out', join(work, 'bundle'), '--runtime', 'none']);
    const nPort = freePortSync();
    const sPort = nPort + 1;
    cli(['-q', 'export', join(work, 'bundle'), '--site', join(work, 'site'), '--listen', `127.0.0.1:${nPort}`]);
    const g = `daemon off;${process.getuid?.() === 0 ? ' user root;' : ''}`;
    children.push(spawn('nginx', ['-e', 'stderr', '-p', join(work, 'site'), '-c', 'nginx.conf', '-g', g], { stdio: 'ignore' }));
    const serve = spawn(
      process.execPath,
      [CLI, 'serve', join(work, 'bundle'), '--listen', `127.0.0.1:${sPort}`, '--max-connections', '1024', '--access-log', '/dev/null'],
      { stdio: 'ignore' },
    );
    children.push(serve);
    const nginx = `http://127.0.0.1:${nPort}`;
    const vb = `http://127.0.0.1:${sPort}`;
    await waitFor(`${nginx}/bundle.json`);
    await waitFor(`${vb}/bundle.json`);
    const rows: [string, string][] = [
      ['large blob', '/files/big.bin'],
      ['SHA256SUMS', '/SHA256SUMS'],
      ['bundle.json', '/bundle.json'],
    ];
    for (const [what, path] of rows) {
      const n = wrk(nginx + path);
      const s = wrk(vb + path);
      log(`${what}: nginx ${(n.bytesPerSec / 1e6).toFixed(0)} MB/s p99 ${n.p99Ms} ms; serve ${(s.bytesPerSec / 1e6).toFixed(0)} MB/s p99 ${s.p99Ms} ms`);
      if (what === 'large blob') {
        const x = s.bytesPerSec / n.bytesPerSec;
        metrics.push({
          metric: 'large blob, nginx (64 connections)',
          value: n.bytesPerSec / 1e6,
          unit: 'MB/s',
          display: `${(n.bytesPerSec / 1e6).toFixed(0)} MB/s`,
        });
        metrics.push({
          metric: 'large blob, serve (64 connections)',
          value: s.bytesPerSec / 1e6,
          unit: 'MB/s',
          display: `${(s.bytesPerSec / 1e6).toFixed(0)} MB/s`,
        });
        metrics.push({ metric: 'large-blob throughput serve / nginx', value: x, unit: 'x', display: `${x.toFixed(2)}x`, target: '>= 0.8x', pass: x >= 0.8 });
      } else {
        const x = s.p99Ms / n.p99Ms;
        metrics.push({ metric: `${what} p99, nginx / serve`, value: s.p99Ms, unit: 'ms', display: `${n.p99Ms} / ${s.p99Ms} ms` });
        metrics.push({ metric: `${what} p99 serve / nginx`, value: x, unit: 'x', display: `${x.toFixed(2)}x`, target: '<= 2x', pass: x <= 2 });
      }
    }
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    metrics.push({
      metric: 'serve peak RSS (VmHWM)',
      value: hwm / 1e6,
      unit: 'MB',
      display: `${(hwm / 1e6).toFixed(0)} MB`,
      target: '<= 150 MB',
      pass: hwm / 1e6 <= 150,
    });
    process.stdout.write(formatTable(metrics));
    const file = join(REPO, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-site-${HOST}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ schema: 'vault-bundle-bench/site/v1', date: new Date().toISOString(), host: HOST, git: tryExec('git', ['rev-parse', 'HEAD'], REPO), mib: MIB, seconds: SECONDS, metrics }, null, 2)}\n`,
    );
    log(`wrote ${file}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
