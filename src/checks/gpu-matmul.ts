import { type Check, fail, pass, round } from './check.js';
import { MATMUL_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe, str } from './probe.js';
import { MATMUL_FLOOR, gpuDatasheet } from './gpu-datasheets.js';
import { firstRunFloor, referenceFor } from './reference.js';

export const DEFAULT_MATMUL_RATIO = 0.85;

/**
 * gpu.matmul: bf16 8192³ matrix products on each GPU, timed in batches of 20 for a few seconds (load for the
 * thermal sampler). The gated figure is the best batch, measured as the reference is (a short burst: H200 790);
 * the median is reported as `sustained` (power capping lowers it, ~680 on an H200) and kept for baselines.
 * Passes when every GPU reaches `minTflops`, else `minRatio` (default 0.70) × the dense BF16 peak of the
 * model's datasheet (gpu-datasheets.ts), else 0.85 × a figure measured on that model, and the GPUs are within
 * `spread` (10 %) of each other; a GPU the table does not know is judged by the spread and the baseline only.
 */
export const gpuMatmul: Check = {
  id: 'gpu.matmul',
  title: 'bf16 matrix-multiply throughput per GPU',
  needs: ['python.env'],
  load: true,
  timeoutMs: 300_000,
  async run(ctx) {
    const o = ctx.options.matmul ?? {};
    const r = await runProbe(ctx, 'matmul', MATMUL_PY, ['--n', String(o.n ?? 8192), '--seconds', String(o.seconds ?? 4)]);
    const problem = probeProblem(r, 'matmul probe');
    if (problem) return problem;
    const gpus = arr(r.json!.gpus);
    if (!gpus.length) return fail('the matmul probe ran on no GPU');
    const model = str(gpus[0]!.name);
    const sheet = gpuDatasheet(model);
    const { min, reference } = firstRunFloor(model ?? 'an unnamed GPU', {
      ...(o.minTflops !== undefined ? { explicit: o.minTflops } : {}),
      ...(o.minRatio !== undefined ? { ratio: o.minRatio } : {}),
      ...(sheet ? { datasheet: sheet.bf16Tflops, product: sheet.product } : {}),
      floor: MATMUL_FLOOR,
      ...(referenceFor(model)?.matmulBf16Tflops !== undefined ? { measured: referenceFor(model)!.matmulBf16Tflops! } : {}),
      measuredRatio: DEFAULT_MATMUL_RATIO,
      what: 'dense BF16 TFLOP/s',
      digits: 1,
    });
    const spread = o.spread ?? 0.1;
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { n: o.n ?? 8192, dtype: 'bf16', spread_max: spread };
    if (min !== undefined) thresholds.min_tflops = min;
    if (reference) thresholds.reference = reference;
    const problems: string[] = [];
    const rates: number[] = [];
    for (const g of gpus) {
      const i = num(g.index) ?? 0;
      const t = num(g.tflops) ?? 0;
      rates.push(t);
      metrics[`gpu${i}_tflops`] = round(t, 1);
      metrics[`gpu${i}_sustained_tflops`] = round(num(g.tflops_median) ?? 0, 1);
      if (min !== undefined && t < min) problems.push(`GPU ${i}: ${round(t, 1)} TFLOP/s < ${min}`);
      if (g.finite === false) problems.push(`GPU ${i}: the product holds NaN or Inf`);
    }
    const lo = Math.min(...rates);
    const hi = Math.max(...rates);
    metrics.min_tflops = round(lo, 1);
    if (rates.length > 1 && hi > 0 && (hi - lo) / hi > spread)
      problems.push(`GPUs differ by ${Math.round(((hi - lo) / hi) * 100)} % (${round(lo, 1)}–${round(hi, 1)} TFLOP/s)`);
    const detail = gpus
      .map(
        (g) =>
          `GPU ${num(g.index)}: best ${round(num(g.tflops) ?? 0, 1)}, first ${round(num(g.tflops_first) ?? 0, 1)}, median ${round(num(g.tflops_median) ?? 0, 1)}, lowest ${round(num(g.tflops_min) ?? 0, 1)} TFLOP/s over ${num(g.batches)} batches of ${String(r.json!.iters)} in ${num(g.seconds)} s`,
      )
      .join('\n');
    const note = min === undefined ? `; no reference for ${model}: record a baseline (--save-baseline)` : reference ? `; floor ${reference}` : '';
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, detail })
      : pass({
          reason: `${rates.length} GPU(s), min ${round(lo, 1)} TFLOP/s bf16 (sustained ${Math.min(...gpus.map((g) => round(num(g.tflops_median) ?? 0, 1)))})${note}`,
          metrics,
          thresholds,
          detail,
        });
  },
};
