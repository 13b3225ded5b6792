import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Check, fail, pass } from './check.js';
import { readNvidiaSmi } from './nvsmi.js';

/**
 * gpu.inventory: `nvidia-smi -q -x`: how many GPUs, which, driver and CUDA version, against what the bundle
 * or the command line expects. No nvidia-smi, a driver it cannot talk to, or no GPU at all is a FAIL: smoke
 * never passes on a box without a working GPU.
 */
export const gpuInventory: Check = {
  id: 'gpu.inventory',
  title: 'GPUs present, driver and CUDA versions as expected',
  timeoutMs: 90_000,
  async run(ctx) {
    const r = await readNvidiaSmi(ctx.exec, { env: ctx.env, signal: ctx.signal });
    if (r.xml) await writeFile(join(ctx.rawDir, 'nvidia-smi-q.xml'), r.xml).catch(() => {});
    if ('problem' in r) return fail(r.problem, { metrics: { gpu_count: 0 } });
    const log = r.log;
    ctx.state.nvsmi = log;
    const gpus = log.gpus;
    const names = [...new Set(gpus.map((g) => g.name))];
    const driver = log.driverVersion ?? 'unknown';
    const versions: Record<string, string> = {
      gpu_model: names.join(' + ') || 'none',
      gpu_count: String(gpus.length),
      driver,
      driver_branch: driver.split('.')[0] ?? driver,
      cuda: log.cudaVersion ?? 'unknown',
    };
    const detail = gpus
      .map((g) => `GPU ${g.index} ${g.busId}: ${g.name}${g.memoryTotalMiB ? `, ${g.memoryTotalMiB} MiB` : ''}${g.uuid ? `, ${g.uuid}` : ''}`)
      .join('\n');
    const metrics: Record<string, number> = { gpu_count: gpus.length };
    gpus.forEach((g) => {
      if (g.memoryTotalMiB !== undefined) metrics[`gpu${g.index}_memory_mib`] = g.memoryTotalMiB;
    });
    const exp = ctx.options.expect ?? {};
    const thresholds: Record<string, string | number> = {};
    const problems: string[] = [];
    if (gpus.length === 0) problems.push('nvidia-smi found no GPU');
    if (exp.count !== undefined) {
      thresholds.count = exp.count;
      if (gpus.length !== exp.count) problems.push(`${gpus.length} GPU(s) found, ${exp.count} expected`);
    }
    if (exp.model) {
      thresholds.model = exp.model;
      const wrong = gpus.filter((g) => !g.name.toLowerCase().includes(exp.model!.toLowerCase()));
      if (wrong.length) problems.push(`expected ${exp.model}, found ${wrong.map((g) => `GPU ${g.index}: ${g.name}`).join(', ')}`);
    }
    if (exp.driverBranch) {
      thresholds.driver_branch = exp.driverBranch;
      if (!driver.startsWith(`${exp.driverBranch}.`)) problems.push(`driver ${driver} is not of the ${exp.driverBranch} branch the bundle expects`);
    }
    if (log.attachedGpus !== gpus.length) problems.push(`nvidia-smi says ${log.attachedGpus} attached but describes ${gpus.length}`);
    const summary = `${gpus.length} × ${versions.gpu_model}, driver ${driver}, CUDA ${versions.cuda}`;
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, versions, detail })
      : pass({ reason: summary, metrics, thresholds, versions, detail });
  },
};
