import { type Check, fail, pass, round } from './check.js';
import { H2D_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe } from './probe.js';
import { pcieFloorGbps } from './reference.js';

/**
 * gpu.h2d: pinned host↔device copies per GPU, each way, against a floor from the GPU's PCIe link as nvidia-smi
 * reports its maximum (Gen5 x16 → 40 GB/s; the H200 measures 55): half the rate means Gen4 or x8.
 */
export const gpuH2d: Check = {
  id: 'gpu.h2d',
  title: 'Host↔device bandwidth per GPU (pinned memory)',
  needs: ['python.env'],
  load: true,
  timeoutMs: 180_000,
  async run(ctx) {
    const o = ctx.options.h2d ?? {};
    const r = await runProbe(ctx, 'h2d', H2D_PY, ['--gib', String(o.gib ?? 1)]);
    const problem = probeProblem(r, 'h2d probe');
    if (problem) return problem;
    const gpus = arr(r.json!.gpus);
    if (!gpus.length) return fail('the h2d probe ran on no GPU');
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { bytes: num(r.json!.bytes) ?? 0, pinned: 'yes' };
    const problems: string[] = [];
    for (const g of gpus) {
      const i = num(g.index) ?? 0;
      const smi = ctx.state.nvsmi?.gpus[i];
      const floor = o.minGbps ?? pcieFloorGbps(smi?.pcie.genMax, smi?.pcie.widthMax);
      const up = num(g.h2d_gbps) ?? 0;
      const down = num(g.d2h_gbps) ?? 0;
      metrics[`gpu${i}_h2d_gbps`] = round(up, 1);
      metrics[`gpu${i}_d2h_gbps`] = round(down, 1);
      if (floor !== undefined) {
        thresholds[`gpu${i}_min_gbps`] = floor;
        if (o.minGbps === undefined && smi) thresholds[`gpu${i}_link`] = `Gen${smi.pcie.genMax} x${smi.pcie.widthMax}`;
        if (up < floor) problems.push(`GPU ${i}: host→device ${round(up, 1)} GB/s < ${floor}`);
        if (down < floor) problems.push(`GPU ${i}: device→host ${round(down, 1)} GB/s < ${floor}`);
      }
      if (g.copy_ok === false) problems.push(`GPU ${i}: data came back changed`);
    }
    const lo = Math.min(...gpus.flatMap((g) => [num(g.h2d_gbps) ?? 0, num(g.d2h_gbps) ?? 0]));
    return problems.length ? fail(problems.join('; '), { metrics, thresholds }) : pass({ reason: `min ${round(lo, 1)} GB/s each way`, metrics, thresholds });
  },
};
