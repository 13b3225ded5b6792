import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASELINE_SCHEMA, type BaselineFile, compareBaseline, makeBaseline, readBaseline } from '../src/checks/baseline.js';
import { baselineResult } from '../src/checks/baseline-run.js';
import type { CheckCtx, CheckResult } from '../src/checks/check.js';
import { GPU_DATASHEETS, MATMUL_FLOOR, MEMBW_FLOOR, gpuDatasheet } from '../src/checks/gpu-datasheets.js';
import { gpuPcie } from '../src/checks/gpu-pcie.js';
import { type CheckExec, runProcess } from '../src/checks/proc.js';
import { modelsLoad } from '../src/checks/models-load.js';
import { firstRunFloor } from '../src/checks/reference.js';
import { tempDir } from './helpers/tmp.js';

const FIX = join(import.meta.dirname, 'fixtures', 'checks');

describe('GPU reference table (datasheets)', () => {
  it('finds the common GPUs by the names nvidia-smi prints', () => {
    const cases: [string, string, number, number][] = [
      ['NVIDIA H100 80GB HBM3', 'H100 SXM5 80GB', 989, 3350],
      ['NVIDIA H100 PCIe', 'H100 PCIe 80GB', 756, 2000],
      ['NVIDIA H100 NVL', 'H100 NVL 94GB', 835, 3900],
      ['NVIDIA H200', 'H200 SXM 141GB', 989, 4800],
      ['NVIDIA A100-SXM4-40GB', 'A100 SXM4 40GB', 312, 1555],
      ['NVIDIA A100-SXM4-80GB', 'A100 SXM4 80GB', 312, 2039],
      ['NVIDIA A100 80GB PCIe', 'A100 PCIe 80GB', 312, 1935],
      ['NVIDIA L40S', 'L40S', 362, 864],
      ['NVIDIA L4', 'L4', 121, 300],
      ['NVIDIA RTX 6000 Ada Generation', 'RTX 6000 Ada Generation', 364, 960],
      ['NVIDIA RTX PRO 6000 Blackwell Workstation Edition', 'RTX PRO 6000 Blackwell', 504, 1792],
      ['NVIDIA GeForce RTX 5090', 'GeForce RTX 5090', 209.5, 1792],
      ['NVIDIA B200', 'B200 (HGX B200)', 2250, 8000],
    ];
    for (const [name, product, tflops, gbps] of cases) expect(gpuDatasheet(name), name).toMatchObject({ product, bf16Tflops: tflops, memGbps: gbps });
    // Case and spacing as a CSV column or a hand-typed name may have them.
    expect(gpuDatasheet(' nvidia  h100 80gb hbm3 ')?.product).toBe('H100 SXM5 80GB');
    // Not a prefix match: an H200 NVL is not an H200 SXM, an unknown GPU has no reference.
    expect(gpuDatasheet('NVIDIA H200 NVL')?.product).toBe('H200 NVL 141GB');
    expect(gpuDatasheet('Tesla T4')).toBeUndefined();
    expect(gpuDatasheet(undefined)).toBeUndefined();
  });

  it('cites a vendor source for every row; each name belongs to one row; PCIe and NVLink where they apply', () => {
    const names = GPU_DATASHEETS.flatMap((d) => d.names.map((n) => n.toLowerCase()));
    expect(new Set(names).size).toBe(names.length);
    for (const d of GPU_DATASHEETS) {
      expect(d.source, d.product).toMatch(/^https:\/\/[^/]*nvidia/);
      expect(d.bf16Tflops).toBeGreaterThan(0);
      expect([4, 5, 6]).toContain(d.pcie.gen);
      expect(d.pcie.width).toBe(16);
    }
    expect(gpuDatasheet('NVIDIA H100 80GB HBM3')?.nvlinkGbps).toBe(900);
    expect(gpuDatasheet('NVIDIA L40S')?.nvlinkGbps).toBeUndefined();
  });

  it('the floors pass every real healthy run in bench/results and fail a throttled GPU', () => {
    const h100 = gpuDatasheet('NVIDIA H100 80GB HBM3')!;
    const h200 = gpuDatasheet('NVIDIA H200')!;
    for (const t of [782, 790]) expect(t).toBeGreaterThanOrEqual(MATMUL_FLOOR * h100.bf16Tflops);
    for (const t of [790, 795.5, 803]) expect(t).toBeGreaterThanOrEqual(MATMUL_FLOOR * h200.bf16Tflops);
    for (const g of [3025, 3034]) expect(g).toBeGreaterThanOrEqual(MEMBW_FLOOR * h100.memGbps);
    for (const g of [4250, 4283]) expect(g).toBeGreaterThanOrEqual(MEMBW_FLOOR * h200.memGbps);
    // An H100 held at ~60 % of its clocks or power: well under the floor.
    expect(0.6 * 989).toBeLessThan(MATMUL_FLOOR * h100.bf16Tflops);
    expect(
      firstRunFloor('NVIDIA H100 80GB HBM3', {
        datasheet: 989,
        product: h100.product,
        floor: MATMUL_FLOOR,
        measuredRatio: 0.85,
        what: 'dense BF16 TFLOP/s',
        digits: 1,
      }),
    ).toEqual({
      min: 692.3,
      reference: '0.7 × 989 dense BF16 TFLOP/s (H100 SXM5 80GB datasheet)',
    });
    // An unknown GPU: no floor at all, said honestly by the check.
    expect(firstRunFloor('Tesla T4', { floor: MATMUL_FLOOR, measuredRatio: 0.85, what: 'x', digits: 1 })).toEqual({});
  });

  it('gpu.pcie fails a Gen5 x16 card whose link tops out at x8 or Gen4 (wrong slot or riser), by its datasheet', async () => {
    const xml = await readFile(join(FIX, 'h200-nvidia-smi-q.xml'), 'utf8');
    const dir = await tempDir();
    const ctx = (exec: CheckExec): CheckCtx => ({
      exec,
      env: { PATH: '/nonexistent' },
      options: {},
      state: { models: [] },
      workDir: dir,
      outDir: dir,
      rawDir: join(dir, 'raw'),
      signal: new AbortController().signal,
      log: () => {},
      report: () => {},
    });
    const ok =
      (s: string): CheckExec =>
      async () => ({ code: 0, stdout: s, stderr: '' });
    expect((await gpuPcie.run(ctx(ok(xml)))).status).toBe('pass');
    const x8 = xml
      .replace('<max_link_width>16x</max_link_width>', '<max_link_width>8x</max_link_width>')
      .replace('<current_link_width>16x</current_link_width>', '<current_link_width>8x</current_link_width>');
    expect(await gpuPcie.run(ctx(ok(x8)))).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('GPU 0: its link is at most x8, and the H200 SXM 141GB is a Gen5 x16 card (datasheet)'),
    });
    const gen4 = xml
      .replace(/<max_link_gen>5<\/max_link_gen>/, '<max_link_gen>4</max_link_gen>')
      .replace('<current_link_gen>5</current_link_gen>', '<current_link_gen>4</current_link_gen>');
    expect(await gpuPcie.run(ctx(ok(gen4)))).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('at most Gen4, and the H200 SXM 141GB is a Gen5 x16 card'),
    });
    const unknown = xml.replace('<product_name>NVIDIA H200</product_name>', '<product_name>NVIDIA Future GPU</product_name>');
    expect(await gpuPcie.run(ctx(ok(unknown)))).toMatchObject({ status: 'pass', reason: expect.stringContaining('no reference for NVIDIA Future GPU') });
  });
});

describe('baselines that know their noise', () => {
  const versions = { gpu_model: 'NVIDIA H100 80GB HBM3', gpu_count: '1', driver: '580.159.04', cuda: '13.0', torch: '2.11.0+cu130' };
  const run = (m: { tflops: number; gbps: number; tok: number; sec: number; opt?: number }): CheckResult[] => [
    { id: 'gpu.matmul', status: 'pass', durationMs: 1, metrics: { gpu0_tflops: m.tflops } },
    { id: 'gpu.membw', status: 'pass', durationMs: 1, metrics: { gpu0_gbps: m.gbps } },
    { id: 'inference.transformers', status: 'pass', durationMs: 1, metrics: { gpu0_tok_s: m.tok } },
    { id: 'models.load', status: 'pass', durationMs: 1, metrics: { tiny_load_sec: m.sec, opt_load_sec: m.opt ?? 0.04 } },
  ];
  /** A deterministic noisy series (a linear congruential generator): value × (1 ± rel). */
  const noisy = (seed: number) => {
    let x = seed;
    return (value: number, rel: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return value * (1 + rel * (2 * (x / 2 ** 31) - 1));
    };
  };
  /** The field's H100: matmul and membw repeat within ~1 %, the tiny model's batch-1 token rate swings ~12 %. */
  // ...and a tiny model loads in 0.03-0.06 s, rounded to 10 ms as models.load reports it.
  const box = (n: ReturnType<typeof noisy>, slow = 1) =>
    run({ tflops: n(786, 0.006) * slow, gbps: n(3030, 0.002), tok: n(337, 0.07), sec: n(0.9, 0.04), opt: Math.round(n(0.045, 0.3) * 100) / 100 });

  it('records repeats, median and spread; gates the stable metrics, reports the noisy token rate', () => {
    const b = makeBaseline(
      [
        run({ tflops: 790, gbps: 3034, tok: 359, sec: 0.9 }),
        run({ tflops: 782, gbps: 3025, tok: 314.9, sec: 0.92 }),
        run({ tflops: 786, gbps: 3030, tok: 340, sec: 0.88 }),
      ],
      versions,
    );
    expect(b.schema).toBe(BASELINE_SCHEMA);
    expect(b.metrics['gpu.matmul/gpu0_tflops']).toEqual({ value: 786, better: 'higher', repeats: 3, samples: [790, 782, 786], median: 786, spread: 0.0102 });
    expect(b.metrics['inference.transformers/gpu0_tok_s']).toMatchObject({ value: 340, repeats: 3, spread: 0.1297 });
    // The field's false alarm: 314.9 vs 359 tok/s on the same box. Now information, and the run passes.
    const c = compareBaseline(b, makeBaseline(run({ tflops: 784, gbps: 3028, tok: 300, sec: 0.91 }), versions));
    const tok = c.metrics.find((m) => m.metric === 'inference.transformers/gpu0_tok_s')!;
    expect(tok).toMatchObject({ gated: false, tolerance: 0.259 });
    expect(c.metrics.find((m) => m.metric === 'gpu.matmul/gpu0_tflops')).toMatchObject({ gated: true, tolerance: 0.1, status: 'ok' });
    expect(c.regressions).toEqual([]);
    expect(baselineResult(c, 'b.json')).toMatchObject({ status: 'pass', reason: expect.stringContaining('2 reported only, too noisy to gate') });
  });

  it('synthetic noisy series: 200 back-to-back compares on a healthy box never fail; a real 20 % drop always does', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const n = noisy(seed);
      const base = makeBaseline([box(n), box(n), box(n)], versions);
      const again = compareBaseline(base, makeBaseline(box(n), versions));
      expect(again.regressions, `seed ${seed}`).toEqual([]);
      const sick = compareBaseline(base, makeBaseline(box(n, 0.8), versions));
      expect(
        sick.regressions.map((m) => m.metric),
        `seed ${seed}`,
      ).toEqual(['gpu.matmul/gpu0_tflops']);
      expect(baselineResult(sick, 'b.json')).toMatchObject({
        status: 'fail',
        reason: expect.stringMatching(/^gpu\.matmul\/gpu0_tflops [\d.]+ vs [\d.]+ \(×0\.[78]\d*, tolerance 10 %\)$/),
      });
    }
  });

  it('a tolerance is never below the measured spread: a metric that spreads 8 % gets 16 %', () => {
    const b = makeBaseline(
      [
        run({ tflops: 800, gbps: 3000, tok: 300, sec: 1 }),
        run({ tflops: 736, gbps: 3000, tok: 300, sec: 1 }),
        run({ tflops: 770, gbps: 3000, tok: 300, sec: 1 }),
      ],
      versions,
    );
    const c = compareBaseline(b, makeBaseline(run({ tflops: 680, gbps: 3000, tok: 300, sec: 1 }), versions));
    expect(c.metrics.find((m) => m.metric === 'gpu.matmul/gpu0_tflops')).toMatchObject({ tolerance: 0.166, gated: false, status: 'ok' });
  });

  it('old baseline files (v1, one value per metric) still load and compare: hardware figures gated at 10 %, token rates reported', async () => {
    const dir = await tempDir();
    const v1 = {
      schema: 'vault-bundle/smoke-baseline/v1',
      created: '2026-11-29T00:00:00Z',
      key: { gpuModel: 'NVIDIA H100 80GB HBM3', gpuCount: '1', driver: '580.159.04', cuda: '13.0', torch: '2.11.0+cu130', vllm: 'none' },
      metrics: { 'gpu.matmul/gpu0_tflops': { value: 790, better: 'higher' }, 'inference.transformers/gpu0_tok_s': { value: 359, better: 'higher' } },
    };
    await writeFile(join(dir, 'old.json'), JSON.stringify(v1));
    const base: BaselineFile = await readBaseline(join(dir, 'old.json'));
    const ok = compareBaseline(base, makeBaseline(run({ tflops: 782, gbps: 3000, tok: 314.9, sec: 1 }), versions));
    expect(ok.regressions).toEqual([]);
    expect(ok.metrics.find((m) => m.metric === 'inference.transformers/gpu0_tok_s')).toMatchObject({ gated: false, status: 'ok' });
    const drop = compareBaseline(base, makeBaseline(run({ tflops: 632, gbps: 3000, tok: 200, sec: 1 }), versions));
    expect(drop.regressions.map((m) => m.metric)).toEqual(['gpu.matmul/gpu0_tflops']);
    expect(drop.metrics.find((m) => m.metric === 'inference.transformers/gpu0_tok_s')).toMatchObject({ status: 'noisy' });
  });
});

describe('models.load for a model that is not installed', () => {
  it('says "not installed: run install (models are the hf step)", not the library\'s network error (real python3)', async () => {
    const dir = await tempDir();
    const home = join(dir, 'models');
    const ctx: CheckCtx = {
      exec: runProcess,
      env: { ...process.env, HF_HUB_OFFLINE: '1' },
      options: {},
      state: { models: [{ repo: 'vault-ai/tiny-gpt2', commit: '916f4e6eb4924c262a8fdc3b77fd88519ba22f4c', home }] },
      workDir: dir,
      outDir: dir,
      rawDir: join(dir, 'raw'),
      signal: new AbortController().signal,
      log: () => {},
      report: () => {},
    };
    await mkdir(ctx.rawDir, { recursive: true });
    const r = await modelsLoad.run(ctx);
    expect(r).toMatchObject({
      status: 'fail',
      reason: `vault-ai/tiny-gpt2: not installed: run install (models are the hf step); no snapshot 916f4e6eb492 under ${home}/hub`,
    });
    expect(r.reason).not.toMatch(/connect|Hub/);
  });
});
