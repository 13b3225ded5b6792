import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Check, fail, pass, skip } from './check.js';
import { thermalSvg } from './svg.js';
import { evaluateThermal, samplesToCsv } from './thermal.js';

/**
 * gpu.thermal: judges what the nvidia-smi sampler recorded while the load checks ran (the smoke command runs
 * the sampler); writes thermal.csv and thermal.svg into the results folder.
 */
export const gpuThermal: Check = {
  id: 'gpu.thermal',
  title: 'No thermal or HW slowdown under load; temperatures within limits',
  needs: ['gpu.inventory'],
  timeoutMs: 60_000,
  async run(ctx) {
    const samples = ctx.state.thermal;
    if (!samples) return skip(ctx.state.thermalProblem ?? 'no load check ran, so nothing was sampled');
    if (samples.length === 0) return { status: 'error', reason: `the thermal sampler recorded nothing: ${ctx.state.thermalProblem ?? 'no output'}` };
    await writeFile(join(ctx.outDir, 'thermal.csv'), samplesToCsv(samples));
    await writeFile(join(ctx.outDir, 'thermal.svg'), thermalSvg(samples, { phases: ctx.state.phases ?? [] }));
    const v = evaluateThermal(samples, ctx.options.thermal ?? {});
    const detail = v.perGpu
      .map(
        (g) =>
          `GPU ${g.gpu}: ${g.samples} samples, max ${g.maxTempC ?? '?'} °C, max ${g.maxPowerW ?? '?'} W, T.Limit headroom ≥ ${g.minTlimitC ?? '?'} °C, sw_power_cap in ${g.powerCapSamples} samples (allowed)`,
      )
      .join('\n');
    const o = { metrics: v.metrics, thresholds: v.thresholds, detail };
    const hottest = Math.max(...v.perGpu.map((g) => g.maxTempC ?? -Infinity));
    return v.ok
      ? pass({ reason: `${samples.length} samples, max ${Number.isFinite(hottest) ? hottest : '?'} °C, no slowdown`, ...o })
      : fail(v.problems.join('; '), o);
  },
};
