/**
 * Quick cold/warm build timing with phase stamps (issue #14 class 1): packs the CLI, builds the spine bench's
 * data set cold, then warm N times, printing each stderr line of the CLI with the ms since the run started.
 * VAULT_BENCH_GIB (default 0.3), VAULT_BENCH_REPEATS (default 3), VAULT_BENCH_ROOT as bench/run.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataSet } from './data.js';
import { packScript } from '../src/runtime/pack.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// VAULT_BENCH_CLI: an already packed CLI (another checkout's, for a before/after on one machine).
const CLI = process.env.VAULT_BENCH_CLI ? resolve(process.env.VAULT_BENCH_CLI) : join(REPO, 'dist', 'vault-bundle.cjs');
const GIB = Number(process.env.VAULT_BENCH_GIB ?? 0.3);
const REPEATS = Number(process.env.VAULT_BENCH_REPEATS ?? 3);
const ROOT = resolve(process.env.VAULT_BENCH_ROOT ?? join(tmpdir(), 'vault-bench'));

function run(label: string, args: string[]): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const c = spawn('/usr/bin/time', ['-f', '%e s wall %U user %S sys %M KiB', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    c.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (/^(fetching|fetched) /.test(line)) continue;
        process.stdout.write(`  ${label} ${(performance.now() - t0).toFixed(0).padStart(6)} ms  ${line}\n`);
      }
    });
    c.stdout.resume();
    c.on('error', rej);
    c.on('close', (code) => (code === 0 ? res(performance.now() - t0) : rej(new Error(`${label}: exit ${code}`))));
  });
}

if (!process.env.VAULT_BENCH_CLI) await packScript(CLI);
mkdirSync(ROOT, { recursive: true });
const ds = ensureDataSet(ROOT, GIB, 1, (s) => console.log(s));
const dir = join(ROOT, `warm-${process.pid}`);
const args = [CLI, '--cache-dir', join(dir, 'cache'), 'build', ds.manifest, '--out', join(dir, 'out', 'bench'), '--lock', join(dir, 'lock.json')];
try {
  console.log(`load ${loadavg()[0]!.toFixed(2)}`);
  const cold = await run('cold', args);
  const warm: number[] = [];
  for (let i = 0; i < REPEATS; i++) warm.push(await run(`warm${i + 1}`, args));
  console.log(`cold ${(cold / 1000).toFixed(2)} s, warm ${warm.map((w) => (w / 1000).toFixed(2)).join(' / ')} s, load ${loadavg()[0]!.toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
