import { type Check, fail, pass, round } from './check.js';
import { MEMBW_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe, str } from './probe.js';
import { referenceFor } from './reference.js';

/** gpu.membw: device memory bandwidth by a D2D copy (bytes read + written), ≥ minRatio (0.85) × the model's reference (H200: 4256 GB/s). */
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
    const ref = referenceFor(model)?.membwGbps;
    const ratio = o.minRatio ?? 0.85;
    const min = o.minGbps ?? (ref !== undefined ? Math.round(ratio * ref) : undefined);
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { bytes: num(r.json!.bytes) ?? 0, counted: 'read+write' };
    if (min !== undefined) thresholds.min_gbps = min;
    const problems: string[] = [];
    for (const g of gpus) {
      const i = num(g.index) ?? 0;
      const v = num(g.gbps) ?? 0;
      metrics[`gpu${i}_gbps`] = round(v, 0);
      if (min !== undefined && v < min) problems.push(`GPU ${i}: ${round(v, 0)} GB/s < ${min}`);
      if (g.copy_ok === false) problems.push(`GPU ${i}: the copy is not equal to its source`);
    }
    const lo = Math.min(...gpus.map((g) => num(g.gbps) ?? 0));
    return problems.length ? fail(problems.join('; '), { metrics, thresholds }) : pass({ reason: `min ${round(lo, 0)} GB/s${min === undefined ? `; no reference for ${model}` : ''}`, metrics, thresholds });
  },
};
