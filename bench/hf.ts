/**
 * npm run bench:hf: the Hugging Face benchmark. The Hub cannot be reached from here, so the Hub emulator
 * (test/helpers/hub-server.ts) serves one model repo, bench/big: 16 safetensors shards of 64 MiB
 * (deterministic, incompressible bytes behind a valid safetensors header) plus 4 config/tokenizer files,
 * 20 files, 1 GiB. In front of it runs a small proxy (here, not in the helper) that makes the loopback
 * behave more like a network: every request waits ~30 ms before it is forwarded, and every response body is
 * paced to ~100 MB/s (per response stream, so parallel downloads add up and one stream does not).
 * Measured side by side, rounds interleaved:
 *   - `vault-bundle build` of `hf: {endpoint: <proxy>, models: [{repo: bench/big}]}` with an empty cache
 *     (lock + fetch + assemble), its peak RSS (target <= 200 MiB);
 *   - @huggingface/hub's own `snapshotDownload({repo, hubUrl, cacheDir, revision, fetch})` (sequential, one
 *     file after another) of the same repo into an empty cache, in a child `npx tsx -e` script; its wall time
 *     includes tsx start-up, so the script also reports the time spent inside snapshotDownload.
 * Target: ours >= 3x faster, counted against the library's in-process time (the stricter reading; the
 * process-to-process ratio is shown too). For reading the numbers, the build also runs with `--runtime none`
 * (not carrying this host's node into the bundle, which the library has no counterpart of); no target.
 * Writes bench/results/<date>-hf-<host>.json (host: $VAULT_BENCH_HOST, default "dev").
 *
 * Environment: VAULT_BENCH_REPEATS (default 2: rounds of each), VAULT_BENCH_HF_LATENCY_MS (default 30),
 * VAULT_BENCH_HF_MBPS (per response stream, MB/s = 10^6 bytes/s, default 100), VAULT_BENCH_HOST,
 * VAULT_BENCH_KEEP=1 (keep the run folder), VAULT_BENCH_STRICT=1 (exit 1 on a MISS).
 * Everything lives in memory or in one run folder under $TMPDIR, removed at the end.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub } from '../test/helpers/hub-server.js';
import { packScript } from '../src/runtime/pack.js';
import { type Metric, formatTable, tryExec } from './report.js';
import { type Measured, measure, rssMethod } from './measure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const env = process.env;
const REPEATS = Math.max(1, Math.round(Number(env.VAULT_BENCH_REPEATS ?? 2) || 2));
const LATENCY_MS = Number(env.VAULT_BENCH_HF_LATENCY_MS ?? 30);
const MBPS = Number(env.VAULT_BENCH_HF_MBPS ?? 100);
const HOST =
  (env.VAULT_BENCH_HOST ?? 'dev')
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'dev';
const REPO_ID = 'bench/big';
const SHARDS = 16;
const SHARD_BYTES = 64 * MiB;
const TARGETS = { speedupVsLibrary: 3, peakRssMiB: 200 } as const;

const log = (s: string) => process.stdout.write(`[bench:hf] ${s}\n`);
const secs = (ms: number | undefined) => (ms === undefined ? 'ERROR' : `${(ms / 1000).toFixed(2)} s`);
const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const load1 = () => Math.round(loadavg()[0]! * 100) / 100;

// ---------------------------------------------------------------------------------------------------------
// The repo.

/** A valid safetensors file of exactly `size` bytes: one U8 tensor of deterministic, incompressible bytes. */
function shard(index: number, size: number): Buffer {
  const tensor = `model.layers.${index}.weight`;
  const describe = (n: number) => JSON.stringify({ __metadata__: { format: 'pt' }, [tensor]: { dtype: 'U8', shape: [n], data_offsets: [0, n] } });
  // The tensor fills what the header leaves; the header is padded with spaces to a multiple of 8 bytes.
  const len = Math.ceil(describe(size).length / 8) * 8;
  const header = describe(size - 8 - len).padEnd(len, ' ');
  const buf = Buffer.allocUnsafe(size);
  buf.writeBigUInt64LE(BigInt(header.length), 0);
  buf.write(header, 8, 'utf8');
  const key = createHash('sha256').update(`vault-bench-hf:${index}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(4 * MiB);
  for (let off = 8 + header.length; off < size;) {
    const n = Math.min(zero.length, size - off);
    c.update(zero.subarray(0, n)).copy(buf, off);
    off += n;
  }
  return buf;
}

function repoFiles(): Record<string, Uint8Array | string> {
  const files: Record<string, Uint8Array | string> = {};
  const weightMap: Record<string, string> = {};
  for (let i = 1; i <= SHARDS; i++) {
    const name = `model-${String(i).padStart(5, '0')}-of-${String(SHARDS).padStart(5, '0')}.safetensors`;
    files[name] = shard(i, SHARD_BYTES);
    weightMap[`model.layers.${i}.weight`] = name;
  }
  files['model.safetensors.index.json'] = `${JSON.stringify({ metadata: { total_size: SHARDS * SHARD_BYTES }, weight_map: weightMap }, null, 2)}\n`;
  files['config.json'] =
    `${JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, num_hidden_layers: SHARDS, vocab_size: 32000, torch_dtype: 'bfloat16' }, null, 2)}\n`;
  files['tokenizer_config.json'] =
    `${JSON.stringify({ model_max_length: 4096, tokenizer_class: 'LlamaTokenizerFast', bos_token: '<s>', eos_token: '</s>' }, null, 2)}\n`;
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 32000; i++) vocab[`tok${i.toString(36)}`] = i;
  files['tokenizer.json'] = `${JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab, merges: [] } })}\n`;
  return files;
}

// ---------------------------------------------------------------------------------------------------------
// The network: a proxy that adds latency to each request and paces each response body.

interface Proxy {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

async function startThrottle(target: string, latencyMs: number, bytesPerSec: number): Promise<Proxy> {
  const up = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const SLICE = 64 * 1024;
  const stats = { requests: 0, bytes: 0 };
  // Each response is paced on its own: after `sent` bytes it may not be ahead of t0 + sent / rate. The body is
  // forwarded from 'data' events, pausing the upstream while ahead of that schedule or while the client's
  // socket is full. (An earlier version iterated the body with `for await`, one promise per 64 KiB, and cost
  // this process ~0.5 s more CPU per GiB: on 2 cores that came out of the parallel client's share.)
  const pump = (src: IncomingMessage, dst: ServerResponse): void => {
    const t0 = performance.now();
    let sent = 0;
    let rest: Buffer | undefined; // received, not yet forwarded
    let timer: NodeJS.Timeout | undefined;
    let blocked = false;
    // Forwards `rest` in pieces of at most SLICE bytes while on schedule; then lets the upstream flow again.
    const go = (): void => {
      while (!blocked && !timer) {
        const wait = t0 + (sent / bytesPerSec) * 1000 - performance.now();
        if (wait >= 1) {
          src.pause();
          timer = setTimeout(() => {
            timer = undefined;
            go();
          }, wait);
          return;
        }
        if (!rest) {
          src.resume();
          return;
        }
        const piece = rest.length > SLICE ? rest.subarray(0, SLICE) : rest;
        rest = rest.length > SLICE ? rest.subarray(SLICE) : undefined;
        sent += piece.length;
        stats.bytes += piece.length;
        if (!dst.write(piece)) {
          blocked = true;
          src.pause();
          dst.once('drain', () => {
            blocked = false;
            go();
          });
        }
      }
    };
    src.on('data', (chunk: Buffer) => {
      if (dst.destroyed) return void src.destroy();
      rest = rest ? Buffer.concat([rest, chunk]) : chunk;
      go();
    });
    src.on('end', () => dst.end());
    src.on('error', () => dst.destroy());
    src.on('close', () => {
      if (!src.complete) dst.destroy(); // the upstream went away mid-body: so does the client's response
    });
    dst.on('close', () => {
      clearTimeout(timer);
      if (!src.complete) src.destroy();
    });
  };
  const server: Server = createServer((req, res) => {
    stats.requests++;
    setTimeout(() => {
      const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        pump(ur, res);
      });
      fwd.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
        else res.destroy();
      });
      req.pipe(fwd);
    }, latencyMs);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return stats.requests;
    },
    get bytes() {
      return stats.bytes;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Measuring.

interface Run {
  wallMs: number;
  maxRssKiB?: number;
  cpuMs?: number;
  /** The library's own time inside snapshotDownload. */
  inProcessMs?: number;
  requests: number;
}
interface Series {
  label: string;
  command: string;
  runs: Run[];
  errors: string[];
}
const series = new Map<string, Series>();

const best = (key: string, f: (r: Run) => number | undefined = (r) => r.wallMs): number | undefined => {
  const s = series.get(key);
  const v = (s?.runs ?? []).map(f).filter((x): x is number => x !== undefined);
  return !s || s.errors.length || !v.length ? undefined : Math.min(...v);
};
const peakRss = (key: string): number | undefined => {
  const v = (series.get(key)?.runs ?? []).map((r) => r.maxRssKiB).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
};

function printTable(metrics: Metric[]): void {
  process.stdout.write(formatTable(metrics));
  for (const s of series.values()) for (const e of s.errors) process.stdout.write(`ERROR in ${s.label}: ${e}\n`);
}

/** Every file of a folder (following no links) with its size; links are resolved to what they point at. */
function snapshotFiles(dir: string, rel = '', out = new Map<string, number>()): Map<string, number> {
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    const p = join(dir, r);
    if (lstatSync(p).isDirectory()) snapshotFiles(dir, r, out);
    else out.set(r, statSync(p).size);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

const tryExecIn = (cmd: string, args: string[]) => tryExec(cmd, args, REPO);

async function main(): Promise<number> {
  const started = new Date();
  await packScript(CLI);
  log(`vault-bundle hf bench: ${REPEATS} round(s), ${LATENCY_MS} ms per request, ${MBPS} MB/s per response, peak RSS via ${rssMethod()}`);

  let t = performance.now();
  const files = repoFiles();
  const repoBytes = Object.values(files).reduce((s, v) => s + (typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength), 0);
  log(`repo ${REPO_ID}: ${Object.keys(files).length} files, ${(repoBytes / GiB).toFixed(3)} GiB, generated in ${secs(performance.now() - t)}`);
  t = performance.now();
  const hub = await startHub({ repos: [{ id: REPO_ID, files }] });
  const view = hub.repo(REPO_ID);
  const proxy = await startThrottle(hub.url, LATENCY_MS, MBPS * 1e6);
  log(
    `hub ${hub.url} (commit ${view.commit.slice(0, 12)}, ${[...view.files.values()].filter((f) => f.lfs).length} LFS files) behind ${proxy.url}, ready in ${secs(performance.now() - t)}`,
  );

  const run = mkdtempSync(join(tmpdir(), 'vault-bench-hf-'));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await proxy.close();
    await hub.close();
    if (env.VAULT_BENCH_KEEP !== '1') rmSync(run, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const short = (a: string) => (a.length > 200 ? `${a.slice(0, 200)}…` : a).replaceAll(run, '$RUN').replaceAll(`${REPO}/`, '').replaceAll(proxy.url, '$HUB');

  const record = (key: string, label: string, command: string[], m: Measured, requests: number, err: string | undefined, inProcessMs?: number) => {
    const s = series.get(key) ?? { label, command: command.map(short).join(' '), runs: [], errors: [] };
    series.set(key, s);
    s.runs.push({
      wallMs: m.wallMs,
      requests,
      ...(m.maxRssKiB !== undefined ? { maxRssKiB: m.maxRssKiB } : {}),
      ...(m.cpuMs !== undefined ? { cpuMs: m.cpuMs } : {}),
      ...(inProcessMs !== undefined ? { inProcessMs } : {}),
    });
    if (err) s.errors.push(err);
    const cpu = m.cpuMs !== undefined ? `   cpu ${secs(m.cpuMs).padStart(8)}` : '';
    const ip = inProcessMs !== undefined ? `   in-process ${secs(inProcessMs)}` : '';
    log(
      `  ${label.padEnd(34)} ${secs(m.wallMs).padStart(9)}${cpu}   peak RSS ${mib(m.maxRssKiB).padStart(8)}   ${requests} requests${ip}${err ? `   ERROR ${err}` : ''}`,
    );
  };
  const failure = (m: Measured) =>
    m.code !== 0 ? `exit ${m.code ?? m.signal}: ${(m.stderr || m.stdout).trim().split('\n').slice(-5).join(' | ')}` : undefined;

  try {
    const manifest = join(run, 'hf.yaml');
    writeFileSync(
      manifest,
      `name: bench-hf\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64}\nhf:\n  endpoint: ${proxy.url}\n  models:\n    - repo: ${REPO_ID}\n`,
    );
    const node = process.execPath;

    const ours = async (key = 'ours', label = 'vault-bundle build (empty cache)', extra: string[] = []) => {
      const cache = join(run, 'cache');
      const out = join(run, 'out');
      const lock = join(run, 'hf.lock.json');
      for (const p of [cache, out, lock]) rmSync(p, { recursive: true, force: true });
      const args = [CLI, '--cache-dir', cache, '-q', 'build', manifest, '--out', out, '--lock', lock, ...extra];
      const r0 = proxy.requests;
      const m = await measure(node, args, { cwd: REPO });
      let err = failure(m);
      if (!err) {
        try {
          const l = JSON.parse(readFileSync(lock, 'utf8')) as { artifacts: { kind: string; size: number }[] };
          const hf = l.artifacts.filter((a) => a.kind === 'hf');
          const bytes = hf.reduce((s, a) => s + a.size, 0);
          if (hf.length !== view.files.size || bytes !== repoBytes)
            err = `the lock has ${hf.length} hf files, ${bytes} bytes; the repo ${view.files.size}, ${repoBytes}`;
          else if (!existsSync(join(out, 'SHA256SUMS'))) err = `no bundle at ${out}`;
        } catch (e) {
          err = `cannot read the lock: ${(e as Error).message}`;
        }
      }
      record(key, label, [node, ...args], m, proxy.requests - r0, err);
      for (const p of [cache, out, lock]) rmSync(p, { recursive: true, force: true });
    };

    const library = async () => {
      const cacheDir = join(run, 'hf-cache');
      rmSync(cacheDir, { recursive: true, force: true });
      const script = [
        'void (async () => {',
        "  const { snapshotDownload } = await import('@huggingface/hub');",
        '  const t0 = performance.now();',
        `  const dir = await snapshotDownload({ repo: { type: 'model', name: ${JSON.stringify(REPO_ID)} }, hubUrl: ${JSON.stringify(proxy.url)}, cacheDir: ${JSON.stringify(cacheDir)}, revision: 'main', fetch });`,
        "  process.stdout.write('\\n@@bench ' + JSON.stringify({ ms: performance.now() - t0, dir }) + '\\n');",
        '})().catch((e) => { console.error(e); process.exit(1); });',
      ].join('\n');
      const args = ['tsx', '-e', script];
      const r0 = proxy.requests;
      const m = await measure('npx', args, { cwd: REPO });
      let err = failure(m);
      let inProcessMs: number | undefined;
      if (!err) {
        const line = m.stdout.split('\n').find((l) => l.startsWith('@@bench '));
        if (!line) err = `the script said nothing: ${m.stdout.slice(-300)}`;
        else {
          const r = JSON.parse(line.slice(8)) as { ms: number; dir: string };
          inProcessMs = r.ms;
          const got = snapshotFiles(r.dir);
          const bad = [...view.files.values()].filter((f) => got.get(f.path) !== f.size).map((f) => f.path);
          if (bad.length || got.size !== view.files.size) err = `the snapshot has ${got.size} files; wrong or missing: ${bad.slice(0, 3).join(', ')}`;
        }
      }
      record('library', 'snapshotDownload (@huggingface/hub)', ['npx', 'tsx', '-e', '<snapshotDownload script>'], m, proxy.requests - r0, err, inProcessMs);
      rmSync(cacheDir, { recursive: true, force: true });
    };

    const loadStart = load1();
    log(`load average (1 min) before measuring: ${loadStart}${loadStart > 0.5 ? ' (the box is busy: numbers will be skewed)' : ''}`);
    for (let i = 0; i < REPEATS; i++) {
      await ours();
      await library();
      await ours('ours-noruntime', 'vault-bundle build --runtime none', ['--runtime', 'none']);
    }

    // Results.
    const m: Metric[] = [];
    const n = (key: string) => series.get(key)?.runs.length ?? 0;
    const of = (key: string, metric: string) => (n(key) > 1 ? `${metric} (best of ${n(key)})` : metric);
    const thr = (ms: number | undefined) => (ms === undefined ? '' : `${(repoBytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`);
    const ourMs = best('ours');
    const libMs = best('library');
    const libIn = best('library', (r) => r.inProcessMs);
    m.push({
      metric: of('ours', 'vault-bundle build, empty cache'),
      value: ourMs && ourMs / 1000,
      unit: 's',
      display: secs(ourMs),
      note: `${thr(ourMs)}; lock + fetch + assemble (carries node)`,
    });
    m.push({ metric: of('library', 'snapshotDownload, in-process'), value: libIn && libIn / 1000, unit: 's', display: secs(libIn), note: thr(libIn) });
    m.push({
      metric: of('library', 'snapshotDownload, whole child process'),
      value: libMs && libMs / 1000,
      unit: 's',
      display: secs(libMs),
      note: 'npx tsx start-up included',
    });
    const ratio = (num: number | undefined, den: number | undefined, metric: string, target?: number, note?: string) => {
      const v = num !== undefined && den !== undefined ? num / den : undefined;
      m.push({
        metric,
        value: v,
        unit: 'x',
        display: v === undefined ? 'ERROR' : `${v.toFixed(target !== undefined && v < target && Number(v.toFixed(2)) >= target ? 4 : 2)}x`,
        ...(target !== undefined ? { target: `>= ${target}x`, pass: v !== undefined && v >= target } : {}),
        ...(note ? { note } : {}),
      });
    };
    ratio(libIn, ourMs, 'speedup vs snapshotDownload', TARGETS.speedupVsLibrary, 'library in-process / ours');
    ratio(libMs, ourMs, 'speedup, process to process', undefined, 'library child wall / ours');
    const noRt = best('ours-noruntime');
    m.push({
      metric: of('ours-noruntime', 'vault-bundle build --runtime none'),
      value: noRt && noRt / 1000,
      unit: 's',
      display: secs(noRt),
      note: noRt === undefined || libIn === undefined ? '' : `speedup ${(libIn / noRt).toFixed(2)}x vs library in-process`,
    });
    const ourRss = Math.max(peakRss('ours') ?? 0, peakRss('ours-noruntime') ?? 0) || undefined;
    m.push({
      metric: 'peak RSS, vault-bundle build',
      value: ourRss === undefined ? undefined : ourRss / 1024,
      unit: 'MiB',
      display: mib(ourRss),
      target: `<= ${TARGETS.peakRssMiB} MiB`,
      pass: ourRss !== undefined && ourRss / 1024 <= TARGETS.peakRssMiB,
      note: 'every build run, --runtime none too',
    });
    const libRss = peakRss('library');
    m.push({
      metric: 'peak RSS, snapshotDownload child',
      value: libRss === undefined ? undefined : libRss / 1024,
      unit: 'MiB',
      display: mib(libRss),
      note: 'largest process (tsx runs it in a child node)',
    });
    const cpuLeast = (key: string) => best(key, (r) => r.cpuMs);
    for (const [key, what] of [
      ['ours', 'vault-bundle build'],
      ['library', 'snapshotDownload child'],
    ] as const) {
      const v = cpuLeast(key);
      m.push({
        metric: `CPU time, ${what} (least)`,
        value: v === undefined ? undefined : v / 1000,
        unit: 's',
        display: v === undefined ? 'n/a' : secs(v),
        note: 'user + system',
      });
    }
    const reqs = (key: string) => series.get(key)?.runs[0]?.requests;
    m.push({
      metric: 'HTTP requests per run, ours / library',
      value: reqs('ours'),
      unit: '',
      display: `${reqs('ours') ?? '?'} / ${reqs('library') ?? '?'}`,
      note: `each waits ${LATENCY_MS} ms`,
    });
    const single = (repoBytes / (MBPS * 1e6)) * 1000;
    m.push({ metric: 'one stream at the cap, no latency', value: single / 1000, unit: 's', display: secs(single), note: 'floor of any sequential client' });
    printTable(m);
    const loadEnd = load1();
    log(`load average (1 min): ${loadStart} before, ${loadEnd} after`);

    const dir = join(REPO, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${started.toLocaleDateString('sv-SE')}-hf-${HOST}.json`);
    const dirty = tryExecIn('git', ['status', '--porcelain', '--', 'src', 'bin', 'package.json']);
    const libVersion = (JSON.parse(readFileSync(join(REPO, 'node_modules', '@huggingface', 'hub', 'package.json'), 'utf8')) as { version: string }).version;
    const result = {
      schema: 'vault-bundle-bench/hf/v1',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      host: HOST,
      loadavg1: { start: loadStart, end: loadEnd },
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        memGiB: Math.round(totalmem() / GiB),
        node: process.version,
        rssMethod: rssMethod(),
      },
      git: { commit: tryExecIn('git', ['rev-parse', 'HEAD']), srcDirty: dirty === undefined ? undefined : dirty.length > 0 },
      params: { repeats: REPEATS, latencyMs: LATENCY_MS, mbPerSecPerResponse: MBPS, huggingfaceHub: libVersion },
      dataset: { repo: REPO_ID, commit: view.commit, files: view.files.size, bytes: repoBytes, shards: SHARDS, shardBytes: SHARD_BYTES },
      proxy: { requests: proxy.requests, bytes: proxy.bytes },
      targets: TARGETS,
      metrics: m.map(({ display: _d, ...x }) => x),
      series: Object.fromEntries(
        [...series].map(([k, s]) => [
          k,
          {
            label: s.label,
            command: s.command,
            bestMs: best(k) === undefined ? undefined : Math.round(best(k)!),
            wallMs: s.runs.map((r) => Math.round(r.wallMs)),
            inProcessMs: s.runs.some((r) => r.inProcessMs !== undefined)
              ? s.runs.map((r) => (r.inProcessMs === undefined ? null : Math.round(r.inProcessMs)))
              : undefined,
            maxRssKiB: s.runs.map((r) => r.maxRssKiB ?? null),
            cpuMs: s.runs.map((r) => r.cpuMs ?? null),
            requests: s.runs.map((r) => r.requests),
            errors: s.errors,
          },
        ]),
      ),
    };
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`results: ${relative(process.cwd(), file) || file}`);
    if ([...series.values()].some((s) => s.errors.length > 0)) return 1;
    return m.some((x) => x.pass === false) && env.VAULT_BENCH_STRICT === '1' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`[bench:hf] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
