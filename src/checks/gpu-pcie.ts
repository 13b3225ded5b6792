import { type Check, fail, pass } from './check.js';
import { gpuDatasheet } from './gpu-datasheets.js';
import { readNvidiaSmi } from './nvsmi.js';

/**
 * gpu.pcie: each GPU's PCIe link runs at its maximum generation and width. Links downclock when idle, so this
 * runs after the load checks and also takes the best link the sampler saw under load; a narrower width is
 * always a failure. The link's maximum is also held against the card's own interface from its datasheet
 * (gpu-datasheets.ts): a Gen5 x16 card whose link tops out at Gen4 or x8 sits in the wrong slot or riser.
 */
export const gpuPcie: Check = {
  id: 'gpu.pcie',
  title: 'PCIe link at its maximum generation and width',
  needs: ['gpu.inventory'],
  timeoutMs: 90_000,
  async run(ctx) {
    const fresh = await readNvidiaSmi(ctx.exec, { env: ctx.env, signal: ctx.signal });
    const log = 'log' in fresh ? fresh.log : ctx.state.nvsmi;
    if (!log) return fail('log' in fresh ? 'no nvidia-smi data' : fresh.problem);
    const metrics: Record<string, number> = {};
    const problems: string[] = [];
    const detail: string[] = [];
    for (const g of log.gpus) {
      const seen = (ctx.state.thermal ?? []).filter((s) => s.gpu === g.index);
      const best = (vals: (number | undefined)[]) => Math.max(...vals.filter((v): v is number => v !== undefined), -Infinity);
      const gen = best([g.pcie.genCurrent, ...seen.map((s) => s.pcieGen)]);
      const width = best([g.pcie.widthCurrent, ...seen.map((s) => s.pcieWidth)]);
      const { genMax, widthMax } = g.pcie;
      if (Number.isFinite(gen)) metrics[`gpu${g.index}_pcie_gen`] = gen;
      if (Number.isFinite(width)) metrics[`gpu${g.index}_pcie_width`] = width;
      if (genMax !== undefined) metrics[`gpu${g.index}_pcie_gen_max`] = genMax;
      if (widthMax !== undefined) metrics[`gpu${g.index}_pcie_width_max`] = widthMax;
      if (g.pcie.replays !== undefined) metrics[`gpu${g.index}_pcie_replays`] = g.pcie.replays;
      detail.push(
        `GPU ${g.index} ${g.busId}: Gen${Number.isFinite(gen) ? gen : '?'} x${Number.isFinite(width) ? width : '?'} (max Gen${genMax ?? '?'} x${widthMax ?? '?'}${seen.length ? `, best of ${seen.length} samples under load` : ''})`,
      );
      const sheet = gpuDatasheet(g.name);
      if (sheet) {
        const card = `${sheet.product} is a Gen${sheet.pcie.gen} x${sheet.pcie.width} card (datasheet)`;
        if (widthMax !== undefined && widthMax < sheet.pcie.width)
          problems.push(`GPU ${g.index}: its link is at most x${widthMax}, and the ${card}: check the slot, riser and seating`);
        if (genMax !== undefined && genMax < sheet.pcie.gen)
          problems.push(`GPU ${g.index}: its link is at most Gen${genMax}, and the ${card}: check the slot, riser and BIOS PCIe setting`);
      } else if (g.index === log.gpus[0]?.index) {
        detail.push(`no reference for ${g.name}: its link is held against its own maximum only`);
      }
      if (genMax === undefined || widthMax === undefined || !Number.isFinite(gen) || !Number.isFinite(width)) continue;
      if (width < widthMax) problems.push(`GPU ${g.index}: link width x${width} < x${widthMax}`);
      if (gen < genMax)
        problems.push(`GPU ${g.index}: link Gen${gen} < Gen${genMax}${seen.length ? ' even under load' : ' (read at idle: links downclock when idle)'}`);
    }
    return problems.length ? fail(problems.join('; '), { metrics, detail: detail.join('\n') }) : pass({ reason: detail.join('; '), metrics });
  },
};
