/**
 * npm run bench:pip: the pip benchmark. PyPI cannot be reached from here, so a PEP 691/503 index on 127.0.0.1
 * (test/helpers/pypi-server.ts) serves wheels built for the bench with the real `pip wheel`:
 *   - 50 small pure-Python projects (vbb-top and vbb-p01…vbb-p49), 3 versions each, in a tree under vbb-top
 *     with a few cross edges, one edge only through an extra and one through a true marker, so that
 *     `vbb-top==1.0` pulls all 50; two more projects are reachable only through a false marker or an extra
 *     nobody asks for, so they must stay out;
 *   - 3 large wheels (24, 32 and 48 MiB of incompressible data) in that closure, so downloads matter.
 * Measured side by side, in one run:
 *   (a) `vault-bundle lock` of `pip: {index-url: <local>, packages: [vbb-top==1.0]}`, second and later runs
 *       (target <= 2 s); the first run is reported too;
 *   (b) `vault-bundle build` with an empty cache (lock + fetch + assemble) vs the real
 *       `/usr/bin/python3 -m pip download -d <dir> --index-url <local> vbb-top==1.0` (same index, same set,
 *       checked; no pip cache); target: ours at least as fast; rounds interleaved;
 *   (c) peak RSS of each (GNU time, bench/measure.ts).
 * For reading the numbers, the build also runs with `--runtime none` (not carrying this host's node into the
 * bundle, which pip has no counterpart of); no target.
 * Writes bench/results/<date>-pip-<host>.json (host: $VAULT_BENCH_HOST, default "dev").
 *
 * Environment: VAULT_BENCH_REPEATS (default 3: lock runs after the first, build and pip runs),
 * VAULT_BENCH_HOST, VAULT_BENCH_KEEP=1 (keep the run folder), VAULT_BENCH_STRICT=1 (exit 1 on a MISS).
 * The generated wheels are cached under $TMPDIR by content (as test/helpers/wheels.ts does); the run folder
 * (caches, locks, bundles, pip's download folder) is removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPypi } from '../test/helpers/pypi-server.js';
import { type FixtureProject, fixtureWheels } from '../test/helpers/wheels.js';
import { packScript } from '../src/runtime/pack.js';
import { type Metric, formatTable, tryExec } from './report.js';
import { type Measured, measure, rssMethod } from './measure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const PYTHON = '/usr/bin/python3';
const MiB = 1024 ** 2;
const env = process.env;
const REPEATS = Math.max(1, Math.round(Number(env.VAULT_BENCH_REPEATS ?? 3) || 3));
const HOST =
  (env.VAULT_BENCH_HOST ?? 'dev')
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'dev';
const TOP = 'vbb-top==1.0';
const TARGETS = { lockCachedS: 2, speedupVsPip: 1 } as const;

const log = (s: string) => process.stdout.write(`[bench:pip] ${s}\n`);
const secs = (ms: number | undefined) => (ms === undefined ? 'ERROR' : `${(ms / 1000).toFixed(2)} s`);
const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);

// ---------------------------------------------------------------------------------------------------------
// The projects.

const P = (i: number) => `vbb-p${String(i).padStart(2, '0')}`;
/** p01…p49 hang under top (0) in a ternary tree: parent(i) = floor((i - 1) / 3). */
const parent = (i: number) => Math.floor((i - 1) / 3);
const VERSIONS = ['1.0.0', '1.1.0', '2.0.0'];
/** Edges that are not plain: the child is pulled through an extra of its parent's requirement, or a marker. */
const VIA_EXTRA = 49; // p16 requires p49 only under its extra "fast"; p05 asks for p16[fast]
const VIA_MARKER = 47; // p15 requires p47 with a marker that is true on the target (python_version >= "3.8")
/** Cross edges (requirer → required): the required project is already chosen; its version must fit. */
const CROSS: [number, number][] = [
  [10, 2],
  [30, 7],
  [44, 3],
  [21, 1],
  [38, 12],
];
/** The big wheels, their size in MiB, and who requires them. */
const BIG: { name: string; mib: number; by: number }[] = [
  { name: 'vbb-big-a', mib: 24, by: 5 },
  { name: 'vbb-big-b', mib: 32, by: 20 },
  { name: 'vbb-big-c', mib: 48, by: 33 },
];

function smallProjects(): FixtureProject[] {
  const out: FixtureProject[] = [];
  const depsOf = (i: number): { deps: string[]; extras?: Record<string, string[]> } => {
    const deps: string[] = [];
    const extras: Record<string, string[]> = {};
    for (let c = 1; c <= 49; c++) {
      if (parent(c) !== i) continue;
      if (c === VIA_EXTRA) extras.fast = [`${P(c)}>=1.0,<2`];
      else if (c === VIA_MARKER) deps.push(`${P(c)}>=1.0,<2; python_version >= "3.8"`);
      else if (c === parent(VIA_EXTRA)) deps.push(`${P(c)}[fast]>=1.0,<2`);
      else deps.push(`${P(c)}>=1.0,<2`);
    }
    for (const [from, to] of CROSS) if (from === i) deps.push(`${P(to)}>=1.1`);
    for (const b of BIG) if (b.by === i) deps.push(`${b.name}>=1.0`);
    if (i === 0) {
      deps.push('vbb-win>=1; platform_system == "Windows"'); // false on the target: never pulled
      extras.docs = ['vbb-docs>=1']; // an extra nobody asks for
    }
    return { deps, ...(Object.keys(extras).length ? { extras } : {}) };
  };
  for (const v of ['0.9', '1.0', '1.1']) {
    const d = depsOf(0);
    out.push({ name: 'vbb-top', version: v, dependencies: d.deps, ...(d.extras ? { extras: d.extras } : {}) });
  }
  for (let i = 1; i <= 49; i++) {
    for (const v of VERSIONS) {
      const d = depsOf(i);
      out.push({ name: P(i), version: v, dependencies: d.deps, ...(d.extras ? { extras: d.extras } : {}), requiresPython: '>=3.8' });
    }
  }
  out.push({ name: 'vbb-win', version: '1.0' }, { name: 'vbb-docs', version: '1.0' });
  return out;
}

/** What both tools must end up with: name → version. */
function expectedClosure(): Map<string, string> {
  const m = new Map<string, string>([['vbb-top', '1.0']]);
  for (let i = 1; i <= 49; i++) m.set(P(i), '1.1.0');
  for (const b of BIG) m.set(b.name, '1.0.0');
  return m;
}

/** Deterministic, incompressible bytes (AES-256-CTR keystream). */
function keystream(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(`vault-bench-pip:${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** The big wheels, built like test/helpers/wheels.ts does (real `pip wheel`, offline), cached by content. */
function bigWheels(): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, BIG }))
    .digest('hex')
    .slice(0, 12);
  const out = join(tmpdir(), `vault-bench-pip-big-${key}`);
  if (existsSync(join(out, '.done'))) return join(out, 'wheels');
  rmSync(out, { recursive: true, force: true });
  const src = join(out, 'src');
  const dirs: string[] = [];
  for (const b of BIG) {
    const dir = join(src, `${b.name}-1.0.0`);
    const mod = b.name.replace(/-/g, '_');
    mkdirSync(join(dir, mod), { recursive: true });
    writeFileSync(join(dir, mod, '__init__.py'), 'VERSION = "1.0.0"\n');
    writeFileSync(join(dir, mod, 'data.bin'), keystream(b.name, b.mib * MiB));
    writeFileSync(
      join(dir, 'pyproject.toml'),
      [
        '[build-system]',
        'requires = ["setuptools"]',
        'build-backend = "setuptools.build_meta"',
        '[project]',
        `name = "${b.name}"`,
        'version = "1.0.0"',
        'license = {text = "MIT"}',
        'dependencies = []',
        '[tool.setuptools]',
        `packages = ["${mod}"]`,
        '[tool.setuptools.package-data]',
        `${mod} = ["*.bin"]`,
        '',
      ].join('\n'),
    );
    dirs.push(dir);
  }
  execFileSync(PYTHON, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', join(out, 'wheels'), ...dirs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
  });
  rmSync(src, { recursive: true, force: true });
  const names = readdirSync(join(out, 'wheels'));
  for (const b of BIG) {
    const f = names.find((n) => n.startsWith(`${b.name.replace(/-/g, '_')}-1.0.0-`));
    if (!f || statSync(join(out, 'wheels', f)).size < b.mib * MiB) throw new Error(`pip wheel did not build a ${b.mib} MiB wheel for ${b.name}`);
  }
  writeFileSync(join(out, '.done'), names.join('\n'));
  return join(out, 'wheels');
}

// ---------------------------------------------------------------------------------------------------------
// Measuring.

interface Series {
  label: string;
  command: string;
  runs: { wallMs: number; maxRssKiB?: number; cpuMs?: number }[];
  errors: string[];
}
const series = new Map<string, Series>();

async function timed(
  key: string,
  label: string,
  cmd: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; check?: (m: Measured) => string | undefined; short?: (a: string) => string } = {},
): Promise<Measured> {
  const s = series.get(key) ?? { label, command: [cmd, ...args].map(o.short ?? ((a) => a)).join(' '), runs: [], errors: [] };
  series.set(key, s);
  const m = await measure(cmd, args, { cwd: REPO, ...(o.env ? { env: o.env } : {}) });
  const err = m.code !== 0 ? `exit ${m.code ?? m.signal}: ${(m.stderr || m.stdout).trim().split('\n').slice(-5).join(' | ')}` : o.check?.(m);
  s.runs.push({ wallMs: m.wallMs, ...(m.maxRssKiB !== undefined ? { maxRssKiB: m.maxRssKiB } : {}), ...(m.cpuMs !== undefined ? { cpuMs: m.cpuMs } : {}) });
  if (err) s.errors.push(err);
  const cpu = m.cpuMs !== undefined ? `   cpu ${secs(m.cpuMs).padStart(8)}` : '';
  log(`  ${label.padEnd(34)} ${secs(m.wallMs).padStart(9)}${cpu}   peak RSS ${mib(m.maxRssKiB).padStart(8)}${err ? `   ERROR ${err}` : ''}`);
  return m;
}

const best = (key: string): number | undefined => {
  const s = series.get(key);
  return !s || s.errors.length || !s.runs.length ? undefined : Math.min(...s.runs.map((r) => r.wallMs));
};
const peakRss = (key: string): number | undefined => {
  const v = (series.get(key)?.runs ?? []).map((r) => r.maxRssKiB).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
};

function printTable(metrics: Metric[]): void {
  process.stdout.write(formatTable(metrics));
  for (const s of series.values()) for (const e of s.errors) process.stdout.write(`ERROR in ${s.label}: ${e}\n`);
}

const load1 = () => Math.round(loadavg()[0]! * 100) / 100;

// ---------------------------------------------------------------------------------------------------------

const tryExecIn = (cmd: string, args: string[]) => tryExec(cmd, args, REPO);

async function main(): Promise<number> {
  const started = new Date();
  await packScript(CLI);
  log(`vault-bundle pip bench: best of ${REPEATS}, peak RSS via ${rssMethod()}`);

  const t0 = performance.now();
  const projects = smallProjects();
  const small = join(fixtureWheels(projects), 'wheels');
  const big = bigWheels();
  const wheelFiles = [...readdirSync(small), ...readdirSync(big)].filter((f) => f.endsWith('.whl'));
  const wheelBytes = [...readdirSync(small).map((f) => join(small, f)), ...readdirSync(big).map((f) => join(big, f))].reduce((s, f) => s + statSync(f).size, 0);
  log(
    `wheels: ${wheelFiles.length} (${projects.length} small + ${BIG.length} big), ${(wheelBytes / MiB).toFixed(1)} MiB, ready in ${secs(performance.now() - t0)} (${small}, ${big})`,
  );

  const run = mkdtempSync(join(tmpdir(), 'vault-bench-pip-'));
  const pypi = await startPypi({ dirs: [small, big] });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await pypi.close();
    if (env.VAULT_BENCH_KEEP !== '1') rmSync(run, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const short = (a: string) =>
    a
      .replace(run, '$RUN')
      .replace(REPO + '/', '')
      .replace(pypi.url, '$INDEX');

  try {
    const manifest = join(run, 'pip.yaml');
    writeFileSync(
      manifest,
      `name: bench-pip\nversion: 1.0.0\ntarget: {os: debian-12, arch: amd64, python: "3.11"}\npip:\n  index-url: ${pypi.url}\n  packages: ["${TOP}"]\n`,
    );
    const want = expectedClosure();
    const closureBytes = [...want].reduce((s, [n, v]) => {
      const f = wheelFiles.find((x) => x.startsWith(`${n.replace(/-/g, '_')}-${v}-`));
      return s + (f ? statSync(join(existsSync(join(small, f)) ? small : big, f)).size : 0);
    }, 0);
    log(`index ${pypi.url}: ${TOP} pulls ${want.size} projects, ${(closureBytes / MiB).toFixed(1)} MiB of wheels`);

    const lockFiles = (path: string): string[] | string => {
      try {
        const lock = JSON.parse(readFileSync(path, 'utf8')) as { artifacts: { kind: string; name: string; version: string; meta?: Record<string, string> }[] };
        const pip = lock.artifacts.filter((a) => a.kind === 'pip');
        const got = new Map(pip.map((a) => [a.name, a.version]));
        const bad = [...want].filter(([n, v]) => got.get(n) !== v).map(([n, v]) => `${n}==${v} (got ${got.get(n) ?? 'none'})`);
        const extra = [...got.keys()].filter((n) => !want.has(n));
        if (bad.length || extra.length) return `lock differs from the expected closure: missing/wrong ${bad.slice(0, 4).join(', ')}; extra ${extra.join(', ')}`;
        return pip.map((a) => a.meta?.filename ?? '?').sort();
      } catch (err) {
        return `cannot read the lock ${path}: ${(err as Error).message}`;
      }
    };
    let lockedSet: string[] | undefined;
    const checkLock = (path: string) => (): string | undefined => {
      const r = lockFiles(path);
      if (typeof r === 'string') return r;
      lockedSet = r;
      return undefined;
    };

    const node = process.execPath;
    log(`load average (1 min) before measuring: ${load1()}${load1() > 0.5 ? ' (the box is busy: numbers will be skewed)' : ''}`);
    const loadStart = load1();

    // (a) lock: the first run, then REPEATS more with the same cache.
    log('lock');
    const lockCache = join(run, 'cache-lock');
    const lockArgs = (i: number) => [CLI, '--cache-dir', lockCache, '-q', 'lock', manifest, '--out', join(run, `lock-${i}.json`)];
    await timed('lock-first', 'vault-bundle lock (first run)', node, lockArgs(0), { short, check: checkLock(join(run, 'lock-0.json')) });
    for (let i = 1; i <= REPEATS; i++)
      await timed('lock', 'vault-bundle lock (second+ run)', node, lockArgs(i), { short, check: checkLock(join(run, `lock-${i}.json`)) });

    // (b) lock + fetch, empty cache, vs pip download; rounds interleaved.
    log('lock + fetch vs pip download');
    const pipEnv: NodeJS.ProcessEnv = {
      PATH: env.PATH,
      HOME: env.HOME,
      LANG: env.LANG ?? 'C.UTF-8',
      PIP_CONFIG_FILE: '/dev/null',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      PIP_NO_INPUT: '1',
    };
    const pipDir = join(run, 'pip-download');
    const pipCheck = (): string | undefined => {
      const got = existsSync(pipDir) ? readdirSync(pipDir).sort() : [];
      if (!lockedSet) return undefined;
      const a = got.join('\n');
      const b = lockedSet.join('\n');
      if (a !== b) {
        const onlyPip = got.filter((f) => !lockedSet!.includes(f));
        const onlyUs = lockedSet.filter((f) => !got.includes(f));
        return `pip downloaded another set: only pip ${onlyPip.slice(0, 4).join(', ') || '-'}; only vault-bundle ${onlyUs.slice(0, 4).join(', ') || '-'}`;
      }
      return undefined;
    };
    const buildCheck = (out: string, lock: string) => (): string | undefined => {
      if (!existsSync(join(out, 'SHA256SUMS'))) return `no bundle at ${out}`;
      const r = lockFiles(lock);
      return typeof r === 'string' ? r : undefined;
    };
    const ours = async (key: string, label: string, extra: string[] = []) => {
      const cache = join(run, 'cache-build');
      const out = join(run, 'out');
      const lock = join(run, 'build.lock.json');
      for (const p of [cache, out, lock]) rmSync(p, { recursive: true, force: true });
      await timed(key, label, node, [CLI, '--cache-dir', cache, '-q', 'build', manifest, '--out', out, '--lock', lock, ...extra], {
        short,
        check: buildCheck(out, lock),
      });
      for (const p of [cache, out, lock]) rmSync(p, { recursive: true, force: true });
    };
    const pip = async () => {
      rmSync(pipDir, { recursive: true, force: true });
      await timed(
        'pip-download',
        'pip download (no cache)',
        PYTHON,
        ['-m', 'pip', 'download', '--no-cache-dir', '-q', '-d', pipDir, '--index-url', pypi.url, TOP],
        { env: pipEnv, short, check: pipCheck },
      );
      rmSync(pipDir, { recursive: true, force: true });
    };
    // Also, for reading the numbers: the same build without carrying this host's node into the bundle.
    for (let i = 0; i < REPEATS; i++) {
      await pip();
      await ours('build', 'vault-bundle build (empty cache)');
      await ours('build-noruntime', 'vault-bundle build --runtime none', ['--runtime', 'none']);
    }

    // Results.
    const m: Metric[] = [];
    const n = (key: string) => series.get(key)?.runs.length ?? 0;
    const wall = (key: string, metric: string, o: { target?: number; note?: string } = {}) => {
      const v = best(key);
      const nn = n(key);
      m.push({
        metric: nn > 1 ? `${metric} (best of ${nn})` : metric,
        value: v === undefined ? undefined : v / 1000,
        unit: 's',
        display: secs(v),
        ...(o.target !== undefined ? { target: `<= ${o.target} s`, pass: v !== undefined && v / 1000 <= o.target } : {}),
        ...(o.note ? { note: o.note } : {}),
      });
      return v;
    };
    wall('lock', 'lock, second+ run', { target: TARGETS.lockCachedS, note: `${want.size} projects` });
    wall('lock-first', 'lock, first run');
    const pipMs = wall('pip-download', 'pip download', {
      note: `pip ${tryExecIn(PYTHON, ['-m', 'pip', '--version'])?.split(' ')[1] ?? '?'}, ${(closureBytes / MiB).toFixed(0)} MiB`,
    });
    const ourMs = wall('build', 'vault-bundle build, empty cache', { note: 'lock + fetch + assemble (carries node)' });
    const ratio = ourMs !== undefined && pipMs !== undefined ? pipMs / ourMs : undefined;
    m.push({
      metric: 'speedup vs pip download',
      value: ratio,
      unit: 'x',
      display: ratio === undefined ? 'ERROR' : `${ratio.toFixed(ratio < TARGETS.speedupVsPip && Number(ratio.toFixed(2)) >= TARGETS.speedupVsPip ? 4 : 2)}x`,
      target: `>= ${TARGETS.speedupVsPip}x`,
      pass: ratio !== undefined && ratio >= TARGETS.speedupVsPip,
      note: 'pip time / ours',
    });
    wall('build-noruntime', 'vault-bundle build --runtime none', {
      note: pipMs !== undefined && best('build-noruntime') ? `speedup ${(pipMs / best('build-noruntime')!).toFixed(2)}x vs pip` : '',
    });
    for (const [key, what] of [
      ['lock', 'lock'],
      ['build', 'build (empty cache)'],
      ['pip-download', 'pip download'],
    ] as const) {
      const v = peakRss(key);
      m.push({ metric: `peak RSS, ${what}`, value: v === undefined ? undefined : v / 1024, unit: 'MiB', display: mib(v) });
    }
    const cpuBest = (key: string) => {
      const c = (series.get(key)?.runs ?? []).map((r) => r.cpuMs).filter((x): x is number => x !== undefined);
      return c.length ? Math.min(...c) : undefined;
    };
    for (const [key, what] of [
      ['build', 'build (empty cache)'],
      ['pip-download', 'pip download'],
    ] as const) {
      const v = cpuBest(key);
      m.push({
        metric: `CPU time, ${what} (least)`,
        value: v === undefined ? undefined : v / 1000,
        unit: 's',
        display: v === undefined ? 'n/a' : secs(v),
        note: 'user + system',
      });
    }
    printTable(m);
    const loadEnd = load1();
    log(`load average (1 min): ${loadStart} before, ${loadEnd} after`);

    const dir = join(REPO, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${started.toLocaleDateString('sv-SE')}-pip-${HOST}.json`);
    const dirty = tryExecIn('git', ['status', '--porcelain', '--', 'src', 'bin', 'package.json']);
    const result = {
      schema: 'vault-bundle-bench/pip/v1',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      host: HOST,
      loadavg1: { start: loadStart, end: loadEnd },
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        memGiB: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        python: tryExecIn(PYTHON, ['--version']),
        pip: tryExecIn(PYTHON, ['-m', 'pip', '--version']),
        rssMethod: rssMethod(),
      },
      git: { commit: tryExecIn('git', ['rev-parse', 'HEAD']), srcDirty: dirty === undefined ? undefined : dirty.length > 0 },
      params: { repeats: REPEATS, requirement: TOP, targetPython: '3.11' },
      dataset: {
        wheels: wheelFiles.length,
        wheelBytes,
        closure: want.size,
        closureBytes,
        big: BIG.map((b) => ({ name: b.name, mib: b.mib })),
        indexRequests: pypi.requests.length,
      },
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
            maxRssKiB: s.runs.map((r) => r.maxRssKiB ?? null),
            cpuMs: s.runs.map((r) => r.cpuMs ?? null),
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
    process.stderr.write(`[bench:pip] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
