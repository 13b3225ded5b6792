/**
 * npm run bench: the spine benchmark. Builds a bundle of a generated data set (default 2 GiB, ~200 files) with
 * the CLI and measures, side by side: verify of the folder vs `sha256sum -c` vs one `openssl dgst` pass, verify
 * of the tar form, the warm rebuild, and the peak RSS of build and verify. Prints a table and writes
 * bench/results/<date>-spine-<host>.json. See bench/README.md.
 *
 * Environment: VAULT_BENCH_GIB (data size, default 2), VAULT_BENCH_REPEATS (default 3; sha256sum runs at most
 * 2 times), VAULT_BENCH_SEED (default 1), VAULT_BENCH_ROOT (default $TMPDIR/vault-bench), VAULT_BENCH_HOST
 * (host name in the result file), VAULT_BENCH_KEEP=1 (keep the run folder), VAULT_BENCH_STRICT=1 (exit 1 on a
 * MISS), VAULT_BENCH_RSS=proc (poll /proc instead of GNU time), VAULT_BENCH_WAIT_S (wait up to this long for a
 * quiet box before measuring).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DataSet, ensureDataSet } from './data.js';
import { type Metric, formatTable, tryExec } from './report.js';
import { type Measured, dropPageCache, measure, rssMethod } from './measure.js';
import { packScript } from '../src/runtime/pack.js';
import { MAX_THREADS } from '../src/bundle/hashpool.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// The packed single script: what ships to the box and what an installed package runs (no tsx start-up).
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const env = process.env;
const GIB = numberEnv('VAULT_BENCH_GIB', 2);
const REPEATS = Math.max(1, Math.round(numberEnv('VAULT_BENCH_REPEATS', 3)));
const SHA256SUM_REPEATS = Math.min(REPEATS, 2);
const SEED = Math.round(numberEnv('VAULT_BENCH_SEED', 1));
const ROOT = resolve(env.VAULT_BENCH_ROOT ?? join(tmpdir(), 'vault-bench'));

const TARGETS = {
  speedupVsSha256sum: 5,
  speedupVsOpenssl: 1.6,
  warmRebuildS: 3,
  peakRssMiB: 200,
  /** verify's speed against the faster of xargs -P$(nproc) sha256sum / openssl dgst (issue #14). */
  vsBestParallelPeer: 0.95,
  /** Cold (page cache dropped) verify against `cat` of the same files: the disk is the limit (issue #14). */
  coldVsCat: 0.95,
} as const;

function numberEnv(name: string, dflt: number, min: 'positive' | 'zero' = 'positive'): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (min === 'positive' && n === 0)) {
    throw new Error(`${name}=${v}: expected a ${min === 'positive' ? 'positive' : 'non-negative'} number`);
  }
  return n;
}

const log = (s: string) => process.stdout.write(`[bench] ${s}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);

interface Series {
  label: string;
  command: string;
  runs: { wallMs: number; maxRssKiB?: number; cpuMs?: number }[];
  errors: string[];
}

const series = new Map<string, Series>();
let loadAtStart = 0;
let inProcessVerifyMs: number | undefined;

interface VerifyInternal {
  ok: boolean;
  files: number;
  bytes: number;
  durationMs: number;
  steps: { name: string; ms: number }[];
  cliWallMs: number;
}

function best(key: string): number | undefined {
  const s = series.get(key);
  if (!s || s.errors.length > 0 || s.runs.length === 0) return undefined;
  return Math.min(...s.runs.map((r) => r.wallMs));
}

function peakRss(key: string): number | undefined {
  const vals = (series.get(key)?.runs ?? []).map((r) => r.maxRssKiB).filter((v): v is number => v !== undefined);
  return vals.length ? Math.max(...vals) : undefined;
}

/** Runs a command, records it under `key`, logs one line; a failure is recorded, not thrown. */
async function timed(
  key: string,
  label: string,
  cmd: string,
  args: string[],
  o: { cwd?: string; input?: string; check?: (m: Measured) => string | undefined } = {},
): Promise<Measured> {
  const s = series.get(key) ?? { label, command: [cmd, ...args.map(shortArg)].join(' '), runs: [], errors: [] };
  series.set(key, s);
  const m = await measure(cmd, args, { cwd: o.cwd ?? REPO, ...(o.input !== undefined ? { input: o.input } : {}) });
  let err: string | undefined;
  if (m.code !== 0) {
    err = `exit ${m.code ?? m.signal}: ${(m.stderr || m.stdout).trim().split('\n').slice(-5).join(' | ')}`;
  } else err = o.check?.(m);
  s.runs.push({
    wallMs: m.wallMs,
    ...(m.maxRssKiB !== undefined ? { maxRssKiB: m.maxRssKiB } : {}),
    ...(m.cpuMs !== undefined ? { cpuMs: m.cpuMs } : {}),
  });
  if (err) s.errors.push(err);
  const cpu = m.cpuMs !== undefined ? `   cpu ${secs(m.cpuMs).padStart(8)}` : '';
  log(`  ${label.padEnd(28)} ${secs(m.wallMs).padStart(9)}${cpu}   peak RSS ${mib(m.maxRssKiB).padStart(8)}${err ? `   ERROR ${err}` : ''}`);
  return m;
}

/**
 * Cold verify against its peer, `cat` of the same files, each after the page cache was dropped (all of it as
 * root, else per file with dd's nocache): what the disk allows. VAULT_BENCH_COLD=0 skips it.
 */
async function coldPair(out: string, listed: string[]): Promise<void> {
  if (env.VAULT_BENCH_COLD === '0') return;
  const how = dropPageCache(listed.map((p) => join(out, p)));
  log(`cold verify vs cat (page cache dropped before each run: ${how})`);
  // The faster warm parallel peer, cold too: where filling the page cache costs the same cores the hashing needs (a
  // 2-core VM), neither cat nor a warm peer is a floor any hasher reaches, and this one shows what one can.
  const par = String(availableParallelism());
  const sums = (best('xargs-sha256sum') ?? Infinity) < (best('xargs-openssl') ?? Infinity);
  const peer = sums ? ['sha256sum'] : ['openssl', 'dgst', '-sha256'];
  for (let i = 0; i < Math.min(REPEATS, 2); i++) {
    dropPageCache(listed.map((p) => join(out, p)));
    await timed('cat-cold', 'cat of the files, cold', 'sh', ['-c', 'xargs -0 cat >/dev/null'], { cwd: out, input: listed.join('\0') });
    dropPageCache(listed.map((p) => join(out, p)));
    await timed('verify-cold', 'vault-bundle verify, cold', process.execPath, [CLI, '-q', 'verify', out]);
    dropPageCache(listed.map((p) => join(out, p)));
    await timed('peer-cold', `xargs -P${par} -n1 ${peer[0]}, cold`, 'xargs', ['-0', `-P${par}`, '-n1', ...peer], { cwd: out, input: listed.join('\0') });
  }
}

/** Long argument lists (openssl's files) are shown shortened in the results. */
function shortArg(a: string): string {
  return a.startsWith(ROOT) ? `$ROOT${a.slice(ROOT.length)}` : a;
}

/** Reads files once so every measurement starts from a warm page cache (what `cat … >/dev/null` does). */
function warmPageCache(files: string[]): number {
  const buf = Buffer.allocUnsafe(8 * MiB);
  let bytes = 0;
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) bytes += n;
    } finally {
      closeSync(fd);
    }
  }
  return bytes;
}

function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (r) m.set(r[2]!, r[1]!);
  }
  return m;
}

/** Removes run folders left by earlier bench runs that died (their pid is gone). */
function sweepStaleRuns(): void {
  if (!existsSync(ROOT)) return;
  for (const name of readdirSync(ROOT)) {
    const m = /^run-(\d+)$/.exec(name);
    if (!m) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) rmSync(join(ROOT, name), { recursive: true, force: true });
  }
}

const tryExecIn = (cmd: string, args: string[]) => tryExec(cmd, args, REPO);

async function main(): Promise<number> {
  await packScript(CLI);
  mkdirSync(ROOT, { recursive: true });
  sweepStaleRuns();
  const started = new Date();
  log(`vault-bundle spine bench: ${GIB} GiB, best of ${REPEATS} (sha256sum: ${SHA256SUM_REPEATS}), peak RSS via ${rssMethod()}`);

  // 1. Data set and manifest.
  const ds: DataSet = ensureDataSet(ROOT, GIB, SEED, log);
  log(
    `data set: ${ds.files.length} files, ${(ds.totalBytes / GiB).toFixed(2)} GiB, ` + `${ds.reused ? 'reused' : `generated in ${secs(ds.genMs)}`} (${ds.dir})`,
  );

  const run = join(ROOT, `run-${process.pid}`);
  const cache = join(run, 'cache');
  const out = join(run, 'out', 'bench');
  const lock = join(run, 'manifest.lock.json');
  const tar = join(run, 'bench.tar');
  mkdirSync(run, { recursive: true });
  const cleanup = () => {
    if (env.VAULT_BENCH_KEEP !== '1') rmSync(run, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const buildArgs = [CLI, '--cache-dir', cache, '-q', 'build', ds.manifest, '--out', out, '--lock', lock];
    const node = process.execPath;

    const waitS = numberEnv('VAULT_BENCH_WAIT_S', 0, 'zero');
    if (waitS > 0 && loadavg()[0]! > 0.5) {
      log(`waiting up to ${waitS} s for the box to quiet down (1-min load ${loadavg()[0]!.toFixed(2)})`);
      const until = Date.now() + waitS * 1000;
      while (loadavg()[0]! > 0.5 && Date.now() < until) await new Promise((r) => setTimeout(r, 5000));
    }
    loadAtStart = Math.round(loadavg()[0]! * 100) / 100;
    log(`load average (1 min) before measuring: ${loadAtStart}${loadAtStart > 0.5 ? ' (the box is busy: numbers will be skewed)' : ''}`);
    // 2. Builds: cold (empty cache, no lock, no output), warm rebuilds, then once more with --tar.
    log('build');
    await timed('build-cold', 'build (cold cache)', node, buildArgs);
    if (!existsSync(join(out, 'SHA256SUMS'))) throw new Error(`the cold build wrote no bundle at ${out}; nothing to measure`);
    for (let i = 0; i < REPEATS; i++) await timed('build-warm', 'build (warm rebuild)', node, buildArgs);
    // Peers of the warm rebuild: a bundle's blobs are proven copies of the cache's (never hard links, issue
    // #14): `cp --reflink=auto` of the same blobs is the copy alone, `cp -al` what hard links used to cost.
    const peer = join(run, 'copy-peer');
    for (let i = 0; i < REPEATS; i++) {
      rmSync(peer, { recursive: true, force: true });
      await timed('copy-peer', 'cp -r --reflink=auto of the blobs', 'cp', ['-r', '--reflink=auto', join(out, 'blobs'), peer]);
      rmSync(peer, { recursive: true, force: true });
      await timed('link-peer', 'cp -al of the blobs (hard links)', 'cp', ['-al', join(out, 'blobs'), peer]);
    }
    rmSync(peer, { recursive: true, force: true });
    await timed('build-tar', 'build --tar', node, [...buildArgs, '--tar', tar]);

    // 3. Verify the folder vs sha256sum vs openssl, rounds interleaved, page cache warm.
    const sumsText = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
    const sums = parseSums(sumsText);
    const listed = [...sums.keys()];
    const bundleBytes = listed.reduce((s, p) => s + statSync(join(out, p)).size, 0);
    log(`warming the page cache: ${(warmPageCache(listed.map((p) => join(out, p))) / GiB).toFixed(2)} GiB read`);
    const opensslArgs = ['dgst', '-sha256', ...listed];
    const argBytes = opensslArgs.reduce((s, a) => s + a.length + 1, 0);
    const viaXargs = argBytes > 100_000;
    const opensslCheck = (m: Measured): string | undefined => {
      const seen = new Map<string, string>();
      for (const line of m.stdout.split('\n')) {
        const r = /^SHA2?-?256\((.+)\)= ([0-9a-f]{64})$/.exec(line);
        if (r) seen.set(r[1]!, r[2]!);
      }
      const bad = listed.filter((p) => seen.get(p) !== sums.get(p));
      return bad.length ? `openssl disagrees with SHA256SUMS on ${bad.length} file(s), e.g. ${bad[0]}` : undefined;
    };
    const parallelSumsCheck = (m: Measured): string | undefined => {
      const got = parseSums(m.stdout);
      const bad = listed.filter((p) => got.get(p) !== sums.get(p));
      return bad.length ? `sha256sum disagrees with SHA256SUMS on ${bad.length} file(s), e.g. ${bad[0]}` : undefined;
    };
    const sha256sumCheck = (m: Measured): string | undefined => {
      const ok = m.stdout.split('\n').filter((l) => l.endsWith(': OK')).length;
      return ok === listed.length ? undefined : `sha256sum said OK for ${ok} of ${listed.length} files`;
    };
    log(`verify the folder (${listed.length} files, ${(bundleBytes / GiB).toFixed(2)} GiB) vs sha256sum vs openssl`);
    // The most threads verify starts (hashpool.ts MAX_THREADS), whatever the cores here: its RSS is the worst case
    // of any thread count (issue #14: <= 200 MB), e.g. the 16-core GPU box's default.
    await timed('verify-max-threads', `vault-bundle verify --threads ${MAX_THREADS}`, node, [CLI, '-q', 'verify', '--threads', String(MAX_THREADS), out]);
    for (let i = 0; i < REPEATS; i++) {
      await timed('verify-dir', 'vault-bundle verify <dir>', node, [CLI, '-q', 'verify', out]);
      await timed(
        'openssl',
        `openssl dgst -sha256${viaXargs ? ' (xargs)' : ''}`,
        viaXargs ? 'xargs' : 'openssl',
        viaXargs ? ['-0', 'openssl', 'dgst', '-sha256'] : opensslArgs,
        {
          cwd: out,
          ...(viaXargs ? { input: listed.join('\0') } : {}),
          check: opensslCheck,
        },
      );
      // The parallel peers (issue #14's yardstick): one process a file, one a core.
      const par = String(availableParallelism());
      await timed('xargs-sha256sum', `xargs -P${par} -n1 sha256sum`, 'xargs', ['-0', `-P${par}`, '-n1', 'sha256sum'], {
        cwd: out,
        input: listed.join('\0'),
        check: parallelSumsCheck,
      });
      await timed('xargs-openssl', `xargs -P${par} -n1 openssl dgst`, 'xargs', ['-0', `-P${par}`, '-n1', 'openssl', 'dgst', '-sha256'], {
        cwd: out,
        input: listed.join('\0'),
        check: opensslCheck,
      });
      if (i < SHA256SUM_REPEATS) {
        await timed('sha256sum', 'sha256sum --strict -c', 'sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: out, check: sha256sumCheck });
      }
    }
    // verify --json, for its own account of where the time goes: in-process time and per-step times, which
    // leave out CLI start-up. Best of REPEATS by in-process time.
    let verifyInternal: VerifyInternal | { error: string } | undefined;
    for (let i = 0; i < REPEATS; i++) {
      const j = await measure(node, [CLI, '--json', 'verify', out], { cwd: REPO });
      try {
        const rep = JSON.parse(j.stdout.trim().split('\n').at(-1) ?? '') as Omit<VerifyInternal, 'cliWallMs'>;
        log(`  ${'verify --json'.padEnd(28)} ${secs(j.wallMs).padStart(9)}   in-process ${secs(rep.durationMs)}, ${rep.ok ? 'ok' : 'NOT ok'}`);
        const cur: VerifyInternal = {
          ok: rep.ok,
          files: rep.files,
          bytes: rep.bytes,
          durationMs: rep.durationMs,
          steps: rep.steps,
          cliWallMs: Math.round(j.wallMs),
        };
        if (!verifyInternal || 'error' in verifyInternal || cur.durationMs < verifyInternal.durationMs) verifyInternal = cur;
      } catch {
        verifyInternal = { error: (j.stderr || j.stdout).trim().slice(0, 500) };
        log(`  verify --json: ERROR ${verifyInternal.error}`);
        break;
      }
    }
    inProcessVerifyMs = verifyInternal && !('error' in verifyInternal) ? verifyInternal.durationMs : undefined;

    await coldPair(out, listed);

    // 4. Verify the tar form.
    const tarBytes = existsSync(tar) ? statSync(tar).size : 0;
    if (tarBytes > 0) {
      log(`verify the tar (${(tarBytes / GiB).toFixed(2)} GiB); warming the page cache: ${(warmPageCache([tar]) / GiB).toFixed(2)} GiB read`);
      for (let i = 0; i < REPEATS; i++) await timed('verify-tar', 'vault-bundle verify <tar>', node, [CLI, '-q', 'verify', tar]);
    } else {
      series.set('verify-tar', { label: 'vault-bundle verify <tar>', command: '', runs: [], errors: ['build --tar wrote no tar'] });
    }

    // CLI start-up alone, to read the other numbers against.
    for (let i = 0; i < REPEATS; i++) await timed('startup', 'vault-bundle --version', node, [CLI, '--version']);

    // 5. Results.
    const metrics = computeMetrics(bundleBytes);
    printTable(metrics);
    log(`load average (1 min): ${loadAtStart} before, ${loadavg()[0]!.toFixed(2)} after`);
    const ok = [...series.values()].every((s) => s.errors.length === 0);
    const file = writeResults(started, ds, { bundleBytes, tarBytes, listed: listed.length, viaXargs }, metrics, verifyInternal);
    log(`results: ${relative(process.cwd(), file) || file}`);
    const misses = metrics.filter((m) => m.pass === false).length;
    if (!ok) return 1;
    return misses > 0 && env.VAULT_BENCH_STRICT === '1' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}

function computeMetrics(bundleBytes: number): Metric[] {
  const m: Metric[] = [];
  const wall = (key: string, metric: string, note?: string) => {
    const v = best(key);
    const n = series.get(key)?.runs.length ?? 0;
    const thr = v !== undefined && note === 'throughput' ? `${(bundleBytes / GiB / (v / 1000)).toFixed(2)} GiB/s` : undefined;
    m.push({
      metric: n > 1 ? `${metric} (best of ${n})` : metric,
      value: v === undefined ? undefined : v / 1000,
      unit: 's',
      display: v === undefined ? 'ERROR' : secs(v),
      ...(thr ? { note: thr } : note && note !== 'throughput' ? { note } : {}),
    });
    return v;
  };
  const ratio = (metric: string, num: number | undefined, den: number | undefined, target: number) => {
    const v = num !== undefined && den !== undefined ? num / den : undefined;
    m.push({
      metric,
      value: v,
      unit: 'x',
      // Four decimals where two would round a MISS up to the target (4.9994 is not 5.00).
      display: v === undefined ? 'ERROR' : `${v.toFixed(v < target && Number(v.toFixed(2)) >= target ? 4 : 2)}x`,
      target: `>= ${target}x`,
      pass: v !== undefined && v >= target,
    });
  };
  const rss = (key: string, metric: string) => {
    const v = peakRss(key);
    m.push({
      metric: `peak RSS, ${metric}`,
      value: v === undefined ? undefined : v / 1024,
      unit: 'MiB',
      display: mib(v),
      target: `<= ${TARGETS.peakRssMiB} MiB`,
      pass: v !== undefined && v / 1024 <= TARGETS.peakRssMiB,
    });
  };

  const vDir = wall('verify-dir', 'verify <dir>', 'throughput');
  const sha = wall('sha256sum', 'sha256sum --strict -c', 'throughput');
  const ossl = wall('openssl', 'openssl dgst -sha256, one pass', 'throughput');
  ratio('verify speedup vs sha256sum', sha, vDir, TARGETS.speedupVsSha256sum);
  ratio('verify speedup vs openssl', ossl, vDir, TARGETS.speedupVsOpenssl);
  const xs = wall('xargs-sha256sum', `xargs -P${availableParallelism()} -n1 sha256sum`, 'throughput');
  const xo = wall('xargs-openssl', `xargs -P${availableParallelism()} -n1 openssl dgst`, 'throughput');
  const peer = [xs, xo].filter((v): v is number => v !== undefined);
  ratio('verify vs the best parallel peer', peer.length ? Math.min(...peer) : undefined, vDir, TARGETS.vsBestParallelPeer);
  const ip = inProcessVerifyMs;
  m.push({
    metric: 'verify <dir>, in-process only (--json)',
    value: ip === undefined ? undefined : ip / 1000,
    unit: 's',
    display: ip === undefined ? 'n/a' : secs(ip),
    ...(ip !== undefined && ossl !== undefined ? { note: `${(ossl / ip).toFixed(2)}x openssl, without CLI start-up` } : {}),
  });
  const catCold = wall('cat-cold', 'peer: cat of the files, page cache dropped', 'throughput');
  const verifyCold = wall('verify-cold', 'verify <dir>, page cache dropped', 'throughput');
  if (env.VAULT_BENCH_COLD !== '0') {
    ratio('cold verify vs cat', catCold, verifyCold, TARGETS.coldVsCat);
    // No verifier beats reading the bytes (cat) or hashing them (the best warm peer): where hashing is the
    // slower of the two (a small VM's fast virtual disk), that is the floor the cold run is judged against.
    const floor = catCold !== undefined && peer.length ? Math.max(catCold, Math.min(...peer)) : undefined;
    ratio('cold verify vs its floor (slower of cold cat, best warm peer)', floor, verifyCold, TARGETS.coldVsCat);
    const peerCold = wall('peer-cold', 'peer: the faster xargs peer, page cache dropped', 'throughput');
    ratio('cold verify vs the best parallel peer, cold', peerCold, verifyCold, TARGETS.coldVsCat);
  }
  wall('verify-tar', 'verify <tar>', 'throughput');
  wall('build-cold', 'build, cold cache');
  const warm = best('build-warm');
  const warmRuns = series.get('build-warm')?.runs.length ?? 0;
  m.push({
    metric: warmRuns > 1 ? `warm rebuild (best of ${warmRuns})` : 'warm rebuild',
    value: warm === undefined ? undefined : warm / 1000,
    unit: 's',
    display: warm === undefined ? 'ERROR' : secs(warm),
    target: `<= ${TARGETS.warmRebuildS} s`,
    pass: warm !== undefined && warm / 1000 <= TARGETS.warmRebuildS,
  });
  wall('copy-peer', 'peer: cp -r --reflink=auto of the blobs (what a rebuild over another folder copies)');
  const linked = wall('link-peer', 'peer: cp -al of the blobs (what a rebuild over its own folder links: store/placed.ts)');
  if (warm !== undefined && linked !== undefined)
    m.push({
      metric: 'warm rebuild over its links',
      value: (warm - linked) / 1000,
      unit: 's',
      display: secs(warm - linked),
      note: "start-up, lock check, the old blobs' records, index, SBOM, sums, the swap and the old folder's removal",
    });
  wall('build-tar', 'build --tar');
  wall('startup', 'CLI start-up (--version)');
  rss('build-cold', 'build (cold)');
  rss('build-warm', 'build (warm)');
  rss('build-tar', 'build --tar');
  rss('verify-dir', 'verify <dir>');
  rss('verify-max-threads', `verify --threads ${MAX_THREADS}`);
  rss('verify-tar', 'verify <tar>');
  return m;
}

function printTable(metrics: Metric[]): void {
  process.stdout.write(formatTable(metrics));
  for (const s of series.values()) for (const e of s.errors) process.stdout.write(`ERROR in ${s.label}: ${e}\n`);
}

function writeResults(
  started: Date,
  ds: DataSet,
  bundle: { bundleBytes: number; tarBytes: number; listed: number; viaXargs: boolean },
  metrics: Metric[],
  verifyInternal: unknown,
): string {
  const host =
    (env.VAULT_BENCH_HOST ?? hostname())
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'dev';
  const date = started.toLocaleDateString('sv-SE'); // YYYY-MM-DD, local time
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${date}-spine-${host}${GIB === 2 ? '' : `-${GIB}gib`}.json`);
  const commit = tryExecIn('git', ['rev-parse', 'HEAD']);
  const dirty = tryExecIn('git', ['status', '--porcelain', '--', 'src', 'bin', 'package.json']);
  const result = {
    schema: 'vault-bundle-bench/spine/v1',
    started: started.toISOString(),
    finished: new Date().toISOString(),
    host,
    /** 1-minute load average at the start of the measurements and at the end: above ~0.5 means other load skewed them. */
    loadavg1: { start: loadAtStart, end: Math.round(loadavg()[0]! * 100) / 100 },
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      memGiB: Math.round(totalmem() / GiB),
      node: process.version,
      openssl: tryExecIn('openssl', ['version']),
      sha256sum: tryExecIn('sha256sum', ['--version'])?.split('\n')[0],
      rssMethod: rssMethod(),
    },
    git: { commit, srcDirty: dirty === undefined ? undefined : dirty.length > 0 },
    params: { gib: GIB, seed: SEED, repeats: REPEATS, sha256sumRepeats: SHA256SUM_REPEATS },
    dataset: { dir: ds.dir, files: ds.files.length, bytes: ds.totalBytes, reused: ds.reused, genMs: Math.round(ds.genMs) },
    bundle: { files: bundle.listed, bytes: bundle.bundleBytes, tarBytes: bundle.tarBytes, opensslViaXargs: bundle.viaXargs },
    targets: TARGETS,
    metrics: metrics.map(({ display: _d, ...x }) => x),
    series: Object.fromEntries(
      [...series].map(([k, s]) => [
        k,
        {
          label: s.label,
          command: s.command.length > 300 ? `${s.command.slice(0, 300)}… (${s.command.length} chars)` : s.command,
          bestMs: best(k) === undefined ? undefined : Math.round(best(k)!),
          wallMs: s.runs.map((r) => Math.round(r.wallMs)),
          maxRssKiB: s.runs.map((r) => r.maxRssKiB ?? null),
          cpuMs: s.runs.map((r) => r.cpuMs ?? null),
          errors: s.errors,
        },
      ]),
    ),
    verifyInternal,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
