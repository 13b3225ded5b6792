/**
 * npm run bench:site: issue #16's serve targets, against nginx serving the exported tree (the same files, the
 * same machine, one run), with wrk at 64 connections:
 *   - large-blob throughput (a VAULT_BENCH_SITE_MIB file, default 256 MiB): serve >= 0.8x nginx;
 *   - p99 latency of the index pages (SHA256SUMS, bundle.json, the PEP 503 index): serve <= 2x nginx;
 *   - serve's peak RSS (VmHWM) over the whole run: <= 150 MB;
 *   - `install` of the bundle (its file into an isolated root) from serve over loopback, with an empty cache,
 *     against `install` of the same bundle folder: <= 1.2x (best of VAULT_BENCH_REPEATS, default 3).
 * Both servers get a short warm-up first; the index pages are measured in VAULT_BENCH_ROUNDS (default 3) rounds
 * taking turns (nginx, serve, nginx, …) and the median round's p99 of each is compared: on a shared machine one
 * round's p99 is mostly who else ran then.
 * Writes bench/results/<date>-site-<host>.json. Environment: VAULT_BENCH_SITE_MIB, VAULT_BENCH_SECONDS (default 8),
 * VAULT_BENCH_HOST (default: hostname). Needs nginx and wrk (Debian packages nginx-light and wrk).
 * VAULT_BENCH_SITE_ONLY=install runs the install comparison alone (no nginx, no wrk; results in
 * <date>-site-install-<host>.json), with the machine's load average before and after in the table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';
import { signalChild } from '../src/util/proc.js';
import { type Metric, formatTable, tryExec } from './report.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const env = process.env;
const MIB = Number(env.VAULT_BENCH_SITE_MIB ?? 256) || 256;
const SECONDS = Number(env.VAULT_BENCH_SECONDS ?? 8) || 8;
const ROUNDS = Number(env.VAULT_BENCH_ROUNDS ?? 3) || 3;
const REPEATS = Number(env.VAULT_BENCH_REPEATS ?? 3) || 3;
const ONLY = env.VAULT_BENCH_SITE_ONLY ?? '';
const HOST = (env.VAULT_BENCH_HOST ?? hostname()).toLowerCase().replace(/[^a-z0-9.-]+/g, '-') || 'dev';
const log = (s: string) => process.stdout.write(`[bench:site] ${s}\n`);

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vault-bundle ${args.find((a) => !a.startsWith('-'))} failed: ${r.stderr}`);
}

/** Milliseconds of one CLI run. */
function timedCli(args: string[]): number {
  const t = performance.now();
  cli(args);
  return performance.now() - t;
}

/** wrk's transfer rate (bytes/s) and latency percentiles (ms). */
function wrk(url: string, seconds = SECONDS): { bytesPerSec: number; p99Ms: number; p50Ms: number; requests: number } {
  const r = spawnSync('wrk', ['-t4', '-c64', `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
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
      `name: bench-site\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64}\nfiles:\n  - { name: big.bin, path: big.bin, sha256: ${createHash('sha256').update(big).digest('hex')}, install: { dest: ${join(work, 'root', 'big.bin')} } }\n`,
    );
    cli(['-q', '--cache-dir', join(work, 'cache'), 'build', m, '--out', join(work, 'bundle'), '--runtime', 'none']);
    const nPort = freePortSync();
    const sPort = nPort + 1;
    const serve = spawn(
      process.execPath,
      [CLI, 'serve', join(work, 'bundle'), '--listen', `127.0.0.1:${sPort}`, '--max-connections', '1024', '--access-log', '/dev/null'],
      { stdio: 'ignore' },
    );
    children.push(serve);
    const vb = `http://127.0.0.1:${sPort}`;
    if (ONLY !== 'install') metrics.push(...(await againstNginx(work, nPort, vb, serve.pid!, children)));
    else await waitFor(`${vb}/bundle.json`);
    metrics.push(...installFromServe(work, vb));
    process.stdout.write(formatTable(metrics));
    const file = join(REPO, 'bench', 'results', `${new Date().toISOString().slice(0, 10)}-site${ONLY ? `-${ONLY}` : ''}-${HOST}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ schema: 'vault-bundle-bench/site/v1', date: new Date().toISOString(), host: HOST, git: tryExec('git', ['rev-parse', 'HEAD'], REPO), mib: MIB, seconds: SECONDS, rounds: ROUNDS, repeats: REPEATS, metrics }, null, 2)}\n`,
    );
    log(`wrote ${file}`);
  } finally {
    for (const c of children) signalChild(c, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(work, { recursive: true, force: true });
  }
}

/** serve against nginx serving the exported tree: large-blob throughput, index-page p99, serve's peak RSS. */
async function againstNginx(work: string, nPort: number, vb: string, servePid: number, children: ReturnType<typeof spawn>[]): Promise<Metric[]> {
  const metrics: Metric[] = [];
  cli(['-q', 'export', join(work, 'bundle'), '--site', join(work, 'site'), '--listen', `127.0.0.1:${nPort}`]);
  const g = `daemon off;${process.getuid?.() === 0 ? ' user root;' : ''}`;
  children.push(spawn('nginx', ['-e', 'stderr', '-p', join(work, 'site'), '-c', 'nginx.conf', '-g', g], { stdio: 'ignore' }));
  const nginx = `http://127.0.0.1:${nPort}`;
  await waitFor(`${nginx}/bundle.json`);
  await waitFor(`${vb}/bundle.json`);
  // Warm-up: both servers answer a second of each kind of request before anything counts.
  for (const path of ['/files/big.bin', '/SHA256SUMS', '/bundle.json']) for (const u of [nginx, vb]) wrk(u + path, 1);
  const n = wrk(`${nginx}/files/big.bin`);
  const s = wrk(`${vb}/files/big.bin`);
  log(`large blob: nginx ${(n.bytesPerSec / 1e6).toFixed(0)} MB/s; serve ${(s.bytesPerSec / 1e6).toFixed(0)} MB/s`);
  const x = s.bytesPerSec / n.bytesPerSec;
  const mbs = (v: number) => ({ value: v / 1e6, unit: 'MB/s', display: `${(v / 1e6).toFixed(0)} MB/s` });
  metrics.push({ metric: 'large blob, nginx (64 connections)', ...mbs(n.bytesPerSec) });
  metrics.push({ metric: 'large blob, serve (64 connections)', ...mbs(s.bytesPerSec) });
  metrics.push({ metric: 'large-blob throughput serve / nginx', value: x, unit: 'x', display: `${x.toFixed(2)}x`, target: '>= 0.8x', pass: x >= 0.8 });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  for (const [what, path] of [
    ['SHA256SUMS', '/SHA256SUMS'],
    ['bundle.json', '/bundle.json'],
  ] as const) {
    const rounds = { nginx: [] as number[], serve: [] as number[], nReq: [] as number[], sReq: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      const a = wrk(nginx + path);
      const b = wrk(vb + path);
      rounds.nginx.push(a.p99Ms);
      rounds.serve.push(b.p99Ms);
      rounds.nReq.push(a.requests / SECONDS);
      rounds.sReq.push(b.requests / SECONDS);
      log(
        `${what} round ${i + 1}: nginx p99 ${a.p99Ms} ms (${(a.requests / SECONDS).toFixed(0)}/s); serve p99 ${b.p99Ms} ms (${(b.requests / SECONDS).toFixed(0)}/s)`,
      );
    }
    const np = median(rounds.nginx);
    const sp = median(rounds.serve);
    const r = sp / np;
    metrics.push({ metric: `${what} p99, nginx / serve (median of ${ROUNDS})`, value: sp, unit: 'ms', display: `${np} / ${sp} ms` });
    metrics.push({
      metric: `${what} requests/s, nginx / serve`,
      value: median(rounds.sReq),
      unit: '/s',
      display: `${median(rounds.nReq).toFixed(0)} / ${median(rounds.sReq).toFixed(0)}`,
    });
    metrics.push({ metric: `${what} p99 serve / nginx`, value: r, unit: 'x', display: `${r.toFixed(2)}x`, target: '<= 2x', pass: r <= 2 });
  }
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${servePid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  metrics.push({
    metric: 'serve peak RSS (VmHWM)',
    value: hwm / 1e6,
    unit: 'MB',
    display: `${(hwm / 1e6).toFixed(0)} MB`,
    target: '<= 150 MB',
    pass: hwm / 1e6 <= 150,
  });
  return metrics;
}

/**
 * `install` of the bundle from serve (an empty cache each time: every file fetched and checked) against `install`
 * of the folder, each into an empty root with its own state: best of REPEATS.
 */
function installFromServe(work: string, vb: string): Metric[] {
  const once = (from: string, cache: string): number => {
    for (const d of ['root', 'state', cache]) rmSync(join(work, d), { recursive: true, force: true });
    const iv = join(work, 'state', 'image-version.json');
    return timedCli(['-q', '--cache-dir', join(work, cache), 'install', from, '--ignore-target', '--state-dir', join(work, 'state'), '--image-version', iv]);
  };
  const folder: number[] = [];
  const served: number[] = [];
  const load0 = loadavg()[0]!;
  for (let i = 0; i < REPEATS; i++) {
    folder.push(once(join(work, 'bundle'), 'cache-folder'));
    served.push(once(`${vb}/`, 'cache-served'));
  }
  const f = Math.min(...folder);
  const s = Math.min(...served);
  const load = `${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}`;
  log(`install: from the folder ${folder.map((v) => v.toFixed(0)).join('/')} ms; from serve ${served.map((v) => v.toFixed(0)).join('/')} ms (load ${load})`);
  // A shared machine's other work lands on either side: each pair ran back to back, their ratios say more than one best.
  const pairs = served.map((v, i) => v / folder[i]!).sort((a, b) => a - b);
  return [
    { metric: 'load average (1 min) before -> after the installs', value: loadavg()[0]!, unit: '', display: load },
    {
      metric: `install from serve / folder, median of ${REPEATS} back-to-back pairs`,
      value: pairs[pairs.length >> 1]!,
      unit: 'x',
      display: `${pairs[pairs.length >> 1]!.toFixed(2)}x`,
    },
    { metric: `install from the folder (best of ${REPEATS})`, value: f / 1000, unit: 's', display: `${(f / 1000).toFixed(2)} s` },
    { metric: `install from serve, empty cache (best of ${REPEATS})`, value: s / 1000, unit: 's', display: `${(s / 1000).toFixed(2)} s` },
    { metric: 'install from serve / from the folder', value: s / f, unit: 'x', display: `${(s / f).toFixed(2)}x`, target: '<= 1.2x', pass: s / f <= 1.2 },
  ];
}

await main();
