import { type Check, fail, pass, round } from './check.js';
import { MEMBW_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe, str } from './probe.js';
import { MEMBW_FLOOR, gpuDatasheet } from './gpu-datasheets.js';
import { firstRunFloor, referenceFor } from './reference.js';

/**
 * gpu.membw: device memory bandwidth by a D2D copy (bytes read + written), ≥ minRatio (default 0.80) × the rated
 * bandwidth of the model's datasheet (gpu-datasheets.ts; H200: 4800 GB/s, measured 4256), else 0.85 × a measured figure.
 */
export const gpuMembw: Check = {
  id: 'gpu.membw',
  title: 'Device memory bandwidth per GPU',
  needs: ['python.env'],
  load: true,
  timeoutMs: 180_000,
  async run(ctx) {
    const o = ctx.options.membw ?? {};
    const r = await runProbe(ctx, 'membw', MEMBW_PY, ['--gib', String(o.gib ?? 2)]);
    const problem = probeProblem(r, 'membw probe');
    if (problem) return problem;
    const gpus = arr(r.json!.gpus);
    if (!gpus.length) return fail('the membw probe ran on no GPU');
    const model = str(gpus[0]!.name);
    const sheet = gpuDatasheet(model);
    const measured = referenceFor(model)?.membwGbps;
    const { min, reference } = firstRunFloor(model ?? 'an unnamed GPU', {
      ...(o.minGbps !== undefined ? { explicit: o.minGbps } : {}),
      ...(o.minRatio !== undefined ? { ratio: o.minRatio } : {}),
      ...(sheet ? { datasheet: sheet.memGbps, product: sheet.product } : {}),
      floor: MEMBW_FLOOR,
      ...(measured !== undefined ? { measured } : {}),
      measuredRatio: 0.85,
      what: 'GB/s rated memory bandwidth',
      digits: 0,
    });
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { bytes: num(r.json!.bytes) ?? 0, counted: 'read+write' };
    if (min !== undefined) thresholds.min_gbps = min;
    if (reference) thresholds.reference = reference;
    const problems: string[] = [];
    for (const g of gpus) {
      const i = num(g.index) ?? 0;
      const v = num(g.gbps) ?? 0;
      metrics[`gpu${i}_gbps`] = round(v, 0);
      if (min !== undefined && v < min) problems.push(`GPU ${i}: ${round(v, 0)} GB/s < ${min}`);
      if (g.copy_ok === false) problems.push(`GPU ${i}: the copy is not equal to its source`);
    }
    const lo = Math.min(...gpus.map((g) => num(g.gbps) ?? 0));
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds })
      : pass({
          reason: `min ${round(lo, 0)} GB/s${min === undefined ? `; no reference for ${model}: record a baseline (--save-baseline)` : reference ? `; floor ${reference}` : ''}`,
          metrics,
          thresholds,
        });
  },
};
