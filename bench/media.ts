/**
 * npm run bench:media: issue #7's field-delivery targets, on the spine's deterministic data set (2 GiB).
 *   - `verify` of the bundle split for FAT32 (--media fat32, 512 MiB parts, so files cross part boundaries)
 *     against `verify` of the same bundle as a folder, interleaved, best of N each, page cache warm for both:
 *     target split >= 0.9x the speed of unsplit.
 *   - A delta bundle (build --base v1) after changing a few files: its size on disk against the sum of the
 *     changed blobs: target within 5%. Built with --runtime none (the carried node, ~100 MB, is counted apart:
 *     a delta carries it unless told not to).
 * Writes bench/results/<date>-media-<host>.json. Environment: VAULT_BENCH_GIB (default 2), VAULT_BENCH_REPEATS
 * (default 3), VAULT_BENCH_ROOT (default $TMPDIR/vault-bench), VAULT_BENCH_HOST (default: hostname).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';
import { ensureDataSet } from './data.js';
import { measure } from './measure.js';
import { type Metric, formatTable, tryExec } from './report.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const env = process.env;
const GIB = Number(env.VAULT_BENCH_GIB ?? 2) || 2;
const REPEATS = Math.max(1, Math.round(Number(env.VAULT_BENCH_REPEATS ?? 3) || 3));
const ROOT = resolve(env.VAULT_BENCH_ROOT ?? join(tmpdir(), 'vault-bench'));
const HOST = (env.VAULT_BENCH_HOST ?? hostname()).toLowerCase().replace(/[^a-z0-9.-]+/g, '-') || 'dev';
const log = (s: string) => process.stdout.write(`[bench:media] ${s}\n`);

function run(args: string[]) {
  return measure(process.execPath, [CLI, ...args]);
}

function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  }
  return n;
}

async function main(): Promise<void> {
  await packScript(CLI);
  const data = ensureDataSet(ROOT, GIB, 1, log);
  const work = mkdtempSync(join(tmpdir(), 'vb-bench-media-'));
  const cache = join(work, 'cache');
  const metrics: Metric[] = [];
  try {
    const dir = join(work, 'dir');
    const split = join(work, 'split');
    for (const [out, extra] of [
      [dir, []],
      [split, ['--media', 'fat32', '--part-size', '512MiB']],
    ] as const) {
      const b = await run([
        '-q',
        '--cache-dir',
        cache,
        'build',
        data.manifest,
        '--out',
        out,
        '--lock',
        join(work, 'v1.lock.json'),
        '--runtime',
        'none',
        ...extra,
      ]);
      if (b.code !== 0) throw new Error(`build failed: ${b.stderr}`);
    }
    const parts = JSON.parse(readFileSync(join(split, 'parts.json'), 'utf8')).parts.length as number;
    const dirMs: number[] = [];
    const splitMs: number[] = [];
    await run(['-q', 'verify', dir]); // both warm in the page cache before timing
    await run(['-q', 'verify', split]);
    for (let i = 0; i < REPEATS; i++) {
      for (const [loc, into] of [
        [dir, dirMs],
        [split, splitMs],
      ] as const) {
        const m = await run(['-q', 'verify', loc]);
        if (m.code !== 0) throw new Error(`verify ${loc} failed: ${m.stderr}`);
        into.push(m.wallMs);
      }
    }
    const d = Math.min(...dirMs);
    const s = Math.min(...splitMs);
    log(`verify folder ${dirMs.map((x) => x.toFixed(0)).join(', ')} ms; split ${splitMs.map((x) => x.toFixed(0)).join(', ')} ms`);
    const mbps = (ms: number) => `${(data.totalBytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
    metrics.push({ metric: `verify, folder (best of ${REPEATS})`, value: d / 1000, unit: 's', display: `${(d / 1000).toFixed(2)} s`, note: mbps(d) });
    metrics.push({
      metric: `verify, split into ${parts} parts (best of ${REPEATS})`,
      value: s / 1000,
      unit: 's',
      display: `${(s / 1000).toFixed(2)} s`,
      note: mbps(s),
    });
    metrics.push({
      metric: 'split verify speed / folder verify speed',
      value: d / s,
      unit: 'x',
      display: `${(d / s).toFixed(2)}x`,
      target: '>= 0.9x',
      pass: d / s >= 0.9,
    });

    // The delta: 2 medium files and 20 small ones change, one file is added.
    const files = data.files.map((f) => ({ ...f, path: join(data.dir, f.rel) }));
    const change = new Set(
      [...files.filter((f) => f.name.startsWith('medium-')).slice(0, 2), ...files.filter((f) => f.name.startsWith('small-')).slice(0, 20)].map((f) => f.name),
    );
    const v2dir = join(work, 'v2-files');
    mkdirSync(v2dir);
    let changedBytes = 0;
    const lines = ['name: bench', 'version: 1.1.0', 'target:', '  os: ubuntu-24.04', '  arch: amd64', 'files:'];
    const add = (name: string, bytes: Buffer) => {
      const p = join(v2dir, `${name}.bin`);
      writeFileSync(p, bytes);
      changedBytes += bytes.length;
      lines.push(`  - name: ${name}`, `    path: ${p}`, `    sha256: ${createHash('sha256').update(bytes).digest('hex')}`);
    };
    for (const f of files) {
      if (change.has(f.name)) add(f.name, randomBytes(f.size));
      else lines.push(`  - name: ${f.name}`, `    path: ${f.path}`, `    sha256: ${f.sha256}`);
    }
    add('added-0', randomBytes(3 * 1024 * 1024));
    const v2 = join(work, 'v2.yaml');
    writeFileSync(v2, `${lines.join('\n')}\n`);
    const delta = join(work, 'delta');
    const b = await run(['-q', '--cache-dir', cache, 'build', v2, '--out', delta, '--base', dir, '--runtime', 'none']);
    if (b.code !== 0) throw new Error(`delta build failed: ${b.stderr}`);
    const ok = await run(['-q', 'verify', delta, '--base', dir]);
    if (ok.code !== 0) throw new Error(`delta verify failed: ${ok.stderr}`);
    const size = duBytes(delta);
    const over = size / changedBytes - 1;
    metrics.push({ metric: 'changed blobs (22 changed, 1 added)', value: changedBytes, unit: 'B', display: `${(changedBytes / 1e6).toFixed(1)} MB` });
    metrics.push({
      metric: 'delta bundle on disk',
      value: size,
      unit: 'B',
      display: `${(size / 1e6).toFixed(1)} MB`,
      note: `of a ${(data.totalBytes / 1e9).toFixed(2)} GB bundle`,
    });
    metrics.push({
      metric: 'delta size over the changed blobs',
      value: over * 100,
      unit: '%',
      display: `${(over * 100).toFixed(2)} %`,
      target: '<= 5 %',
      pass: over <= 0.05,
    });
    process.stdout.write(formatTable(metrics));
    const date = new Date().toISOString().slice(0, 10);
    const file = join(REPO, 'bench', 'results', `${date}-media-${HOST}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ schema: 'vault-bundle-bench/media/v1', date: new Date().toISOString(), host: HOST, git: tryExec('git', ['rev-parse', 'HEAD'], REPO), gib: GIB, repeats: REPEATS, metrics }, null, 2)}\n`,
    );
    log(`wrote ${file}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
