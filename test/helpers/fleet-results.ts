import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './cli.js';

/** Real smoke results of H200 boxes (bench/results): the folders the fleet role fetches, one per box. */
export const REAL_RUNS = ['2026-12-01-h200x2-smoke/run1', '2026-12-01-h200x2-smoke/run2', '2026-11-29-h200-smoke', '2026-12-01-h200-signed-install'];

/** Copies one real run into results/<host>/ with a rollout.json as the role writes it. */
export async function realBox(
  results: string,
  host: string,
  run: string,
  o: { scale?: Record<string, number>; hotter?: number; image?: Record<string, unknown> } = {},
): Promise<void> {
  const from = join(REPO, 'bench/results', run);
  const dir = join(results, host);
  await mkdir(dir, { recursive: true });
  const r = JSON.parse(await readFile(join(from, 'results.json'), 'utf8')) as {
    box: Record<string, string>;
    bundle?: { name?: string; version?: string };
    checks: { id: string; metrics?: Record<string, number> }[];
    imageVersion?: Record<string, unknown>;
  };
  if (o.image) r.imageVersion = o.image;
  r.box.hostname = host;
  for (const c of r.checks) {
    for (const k of Object.keys(c.metrics ?? {})) {
      const f = Object.entries(o.scale ?? {}).find(([id]) => id === c.id)?.[1];
      if (f !== undefined && /_(tflops|gbps)$/.test(k)) c.metrics![k] = Math.round(c.metrics![k]! * f * 10) / 10;
      if (o.hotter && c.id === 'gpu.thermal' && /_max_temp_c$/.test(k)) c.metrics![k] = c.metrics![k]! + o.hotter;
    }
  }
  await writeFile(join(dir, 'results.json'), JSON.stringify(r, null, 2));
  for (const f of ['junit.xml', 'thermal.csv', 'journal.jsonl']) await copyFile(join(from, f), join(dir, f)).catch(() => undefined);
  const rollout = {
    schema: 'vault-bundle/fleet-rollout/v1',
    host,
    finished: '2026-12-06T00:00:00Z',
    checkMode: false,
    bundle: { name: r.bundle?.name ?? 'box-demo', version: r.bundle?.version ?? '0.1.0', digest: `sha256:${'ab'.repeat(32)}` },
    steps: [
      { step: 'copy', ok: true, changed: false },
      { step: 'verify', rc: 0, ok: true, message: 'OK' },
      { step: 'install', rc: 0, ok: true, changed: false, message: '0 changed, 12 already in place' },
      { step: 'smoke', rc: 0, ok: true, message: 'OK' },
    ],
  };
  await writeFile(join(dir, 'rollout.json'), JSON.stringify(rollout, null, 2));
}

/**
 * A fleet of `n` boxes from the real runs in turn, every seventh 20 % slow on matmul and membw, every eleventh
 * 12 °C hotter, and the expected list naming one more box that never reported.
 */
export async function synthFleet(results: string, n: number): Promise<string[]> {
  const hosts: string[] = [];
  for (let i = 0; i < n; i++) {
    const host = `gpu-${String(i + 1).padStart(3, '0')}`;
    hosts.push(host);
    const slow: Record<string, number> = i % 7 === 6 ? { 'gpu.matmul': 0.8, 'gpu.membw': 0.8 } : {};
    await realBox(results, host, REAL_RUNS[i % REAL_RUNS.length]!, { scale: slow, ...(i % 11 === 10 ? { hotter: 12 } : {}) });
  }
  await writeFile(join(results, 'expected-hosts.txt'), [...hosts, `gpu-${String(n + 1).padStart(3, '0')}`].join('\n'));
  return hosts;
}
