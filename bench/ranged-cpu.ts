/**
 * CPU seconds per GiB received by a ranged download (issue #16: the box's build fetched at ~670 MB/s, one core
 * busy), load-independent: the client's user+sys CPU (process.cpuUsage: every thread of this process, the
 * whole-file hash's worker included) for one VAULT_BENCH_RANGED_MIB file (default 1024) fetched from nginx on
 * 127.0.0.1 (another process: its CPU is not counted) over VAULT_BENCH_STREAMS streams (default 32), against curl
 * fetching the same bytes in the same ranges (its own CPU, from the child's rusage). Both write into files on the
 * same disk. Prints one JSON line; `VAULT_BENCH_REPEATS` rounds (default 3), taking turns.
 *   npx tsx bench/ranged-cpu.ts
 * VAULT_BENCH_MODE=build runs a whole build of the file instead (buildBundle, concurrency 4: 16 streams), fetch
 * and assemble timed and CPU-counted apart, with its copies (proven unchanged or hashed).
 * VAULT_BENCH_HASH=0 skips the whole-file hash (to see the transfer's own CPU); VAULT_BENCH_CURL=0 skips curl.
 * mainCpuPerGiB is the main thread's own CPU (/proc/self/task/<pid>/stat, 10 ms ticks): VAULT_FETCH_THREADS=0 vs =2
 * shows what the fetch threads (fetch/part-threads.ts) take off it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  linkSync,
  statSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchTallied } from '../src/fetch/download.js';
import { HttpClient } from '../src/fetch/http.js';
import { openUrl } from '../src/fetch/open.js';
import { FileHashers } from '../src/bundle/hash-workers.js';
import { digestOf } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { limits } from '../src/util/limits.js';
import { buildIn } from '../test/helpers/build.js';
import { signalChild } from '../src/util/proc.js';

const env = process.env;
const MIB = Number(env.VAULT_BENCH_RANGED_MIB ?? 1024) || 1024;
const STREAMS = Number(env.VAULT_BENCH_STREAMS ?? 32) || 32;
const REPEATS = Number(env.VAULT_BENCH_REPEATS ?? 3) || 3;
const HASH = env.VAULT_BENCH_HASH !== '0';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'vb-ranged-cpu-'));
  const www = join(work, 'www');
  mkdirSync(www);
  chmodSync(work, 0o755); // nginx's workers run as another user
  const digest = makeFixture(join(www, 'big.bin'));
  const size = MIB << 20;
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off; pid ${work}/nginx.pid; error_log ${work}/error.log; worker_processes 2;
events { worker_connections 256; }
http { access_log off; sendfile on; client_body_temp_path ${work}/t; proxy_temp_path ${work}/t; fastcgi_temp_path ${work}/t;
uwsgi_temp_path ${work}/t; scgi_temp_path ${work}/t; server { listen 127.0.0.1:${port}; root ${www}; } }\n`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-e', `${work}/error.log`], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const url = `http://127.0.0.1:${port}/big.bin`;
  const rows: Record<string, unknown>[] = [];
  try {
    for (let round = 0; round < REPEATS; round++) {
      rows.push(env.VAULT_BENCH_MODE === 'build' ? await built(work, url, digest) : await ours(work, url, digest, size));
      if (env.VAULT_BENCH_CURL !== '0') rows.push(curl(work, url, size));
    }
  } finally {
    signalChild(nginx, 'SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ mib: MIB, streams: STREAMS, hash: HASH, load: loadavg()[0], rows }));
}

async function ours(work: string, url: string, digest: ReturnType<typeof digestOf>, size: number) {
  const root = join(work, 'cache');
  rmSync(root, { recursive: true, force: true });
  const store = new Store(root);
  const http = new HttpClient({ ...limits });
  const signal = new AbortController().signal;
  const ctx = { store, report: () => undefined, signal, limits };
  const item = { id: 'big', digest, size };
  const t0Threads = threadCpu();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const hashers = new FileHashers(1);
  await fetchTallied([item], ctx, {
    concurrency: 8,
    streams: STREAMS,
    ranged: () => true,
    sourceFor: () => ({ open: () => openUrl(url, size, 'big', { http, signal }) }),
    hashWhole: HASH ? (p, n, s) => hashers.hash(p, n, s) : async () => digest,
  }).finally(() => hashers.close());
  const c = process.cpuUsage(c0);
  const perThread = threadCpu(t0Threads);
  if (env.VAULT_BENCH_THREADS === '1') console.error(JSON.stringify(perThread));
  // The main thread's own CPU (its task id is the pid): what the fetch threads (VAULT_FETCH_THREADS) take off it.
  const [mu, ms] = Object.entries(perThread).find(([k]) => k.endsWith(`#${process.pid}`))?.[1] ?? [0, 0];
  const mainCpu = (mu + ms) / 100;
  const wall = (performance.now() - t0) / 1000;
  await http.close();
  const cpu = (c.user + c.system) / 1e6;
  const gib = size / 2 ** 30;
  return {
    who: `vault-bundle (fetch threads: ${env.VAULT_FETCH_THREADS ?? 'auto'})`,
    wall: +wall.toFixed(2),
    user: c.user / 1e6,
    sys: c.system / 1e6,
    cpuPerGiB: +(cpu / gib).toFixed(3),
    mainCpuPerGiB: +(mainCpu / gib).toFixed(3),
  };
}

/** A whole build of the file (the library's buildBundle, as test/helpers/build.ts runs it): fetch and assemble CPU apart. */
async function built(work: string, url: string, digest: ReturnType<typeof digestOf>) {
  const dir = join(work, 'build');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const manifest = join(dir, 'm.yaml');
  const yaml = ['name: t', 'version: 1.0.0', 'target:', '  os: ubuntu-24.04', '  arch: amd64', 'files:', '  - name: big', `    url: ${url}`];
  writeFileSync(manifest, [...yaml, `    sha256: ${digest.slice('sha256:'.length)}`, ''].join('\n'));
  const marks: Record<string, [number, NodeJS.CpuUsage]> = {};
  const mark = (k: string) => (marks[k] = [performance.now(), process.cpuUsage()]);
  mark('start');
  const r = await buildIn(dir, manifest, { onEvent: (e) => void (e.type === 'phase' && mark(e.phase)) });
  mark('end');
  const span = (a: string, b: string) => {
    const [t0, c0] = marks[a]!;
    const [t1, c1] = marks[b]!;
    return { wall: +((t1 - t0) / 1000).toFixed(2), cpu: +((c1.user + c1.system - c0.user - c0.system) / 1e6).toFixed(2) };
  };
  return { who: 'build', fetch: span('fetch', 'assemble'), assemble: span('assemble', 'end'), copies: JSON.stringify(r.copies) };
}

function curl(work: string, url: string, size: number) {
  const part = Math.ceil(size / STREAMS);
  const args = ['-s', '--parallel', '--parallel-max', String(STREAMS)];
  for (let i = 0; i < STREAMS; i++) args.push('-r', `${i * part}-${Math.min(size, (i + 1) * part) - 1}`, '-o', join(work, `c${i}`), url);
  const sh = `/usr/bin/time -f '%e %U %S' curl ${args.map((a) => `'${a}'`).join(' ')}`;
  const r = spawnSync('sh', ['-c', sh], { encoding: 'utf8' });
  for (let i = 0; i < STREAMS; i++) rmSync(join(work, `c${i}`), { force: true });
  const [wall, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  return { who: 'curl', wall, user, sys, cpuPerGiB: +((user + sys) / (size / 2 ** 30)).toFixed(3) };
}

/** CPU ticks (user, sys) of each thread of this process by name, less `base`'s. */
function threadCpu(base?: Record<string, [number, number]>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const t of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const key = `${name}#${t}`;
    out[key] = [Number(f[11]) - (base?.[key]?.[0] ?? 0), Number(f[12]) - (base?.[key]?.[1] ?? 0)];
  }
  return out;
}

/** The fixture file of MIB random MiB, and its digest; VAULT_BENCH_FIXTURE=<file> keeps it there between runs (linked in). */
function makeFixture(to: string): ReturnType<typeof digestOf> {
  const keep = env.VAULT_BENCH_FIXTURE;
  if (keep && existsSync(keep) && statSync(keep).size === MIB << 20) {
    linkSync(keep, to);
    return digestOf(readFileSync(`${keep}.sha256`, 'utf8').trim());
  }
  const h = createHash('sha256');
  const fd = openSync(to, 'w');
  for (let i = 0; i < MIB; i++) {
    const b = randomBytes(1 << 20);
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  const hex = h.digest('hex');
  if (keep) {
    rmSync(keep, { force: true });
    linkSync(to, keep);
    writeFileSync(`${keep}.sha256`, hex);
  }
  return digestOf(hex);
}

await main();
