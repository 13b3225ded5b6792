import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckCtx } from './check.js';
import { type Check, fail, pass, round, skip } from './check.js';
import type { ModelRef } from './models.js';
import { GENERATE_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe, str } from './probe.js';

/** The model the inference checks use: `--inference-model` / options, else the first bundled model. */
export function inferenceModel(ctx: CheckCtx, wanted?: string): ModelRef | undefined {
  const models = ctx.state.models;
  return wanted ? models.find((m) => m.repo === wanted) : models[0];
}

/** inference.transformers: greedy generation of N tokens (default 64) on each GPU with a bundled model; tokens/s. */
export const inferenceTransformers: Check = {
  id: 'inference.transformers',
  title: 'Text generation with transformers on each GPU',
  needs: ['models.load'],
  load: true,
  timeoutMs: 600_000,
  async run(ctx) {
    const o = ctx.options.inference ?? {};
    const m = inferenceModel(ctx, o.model);
    if (!m) return skip(o.model ? `model ${o.model} is not in the bundle` : 'no models in the bundle');
    const tokens = o.tokens ?? 64;
    const spec = join(ctx.workDir, 'generate.json');
    await writeFile(spec, JSON.stringify({ model: { repo: m.repo, commit: m.commit }, tokens }));
    const r = await runProbe(ctx, 'generate', GENERATE_PY, [spec], { env: { HF_HOME: m.home } });
    const problem = probeProblem(r, `generating with ${m.repo}`);
    if (problem) return problem;
    const gpus = arr(r.json!.gpus);
    if (!gpus.length) return fail('generation ran on no GPU');
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { model: m.repo, tokens };
    if (o.minTokS !== undefined) thresholds.min_tok_s = o.minTokS;
    const problems: string[] = [];
    for (const g of gpus) {
      const i = num(g.index) ?? 0;
      const got = num(g.tokens) ?? 0;
      const asked = num(g.asked) ?? tokens;
      const rate = num(g.tok_s) ?? 0;
      metrics[`gpu${i}_tok_s`] = round(rate, 1);
      if (got !== asked) problems.push(`GPU ${i}: ${got} tokens generated, ${asked} asked`);
      if (o.minTokS !== undefined && rate < o.minTokS) problems.push(`GPU ${i}: ${round(rate, 1)} tokens/s < ${o.minTokS}`);
    }
    const detail = gpus
      .map((g) => `GPU ${num(g.index)}: ${num(g.tokens)} tokens in ${round(num(g.sec) ?? 0, 3)} s: ${JSON.stringify(str(g.text) ?? '')}`)
      .join('\n');
    const lo = Math.min(...gpus.map((g) => num(g.tok_s) ?? 0));
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, detail })
      : pass({ reason: `${m.repo}: min ${round(lo, 1)} tokens/s (batch 1, greedy)`, metrics, thresholds, detail });
  },
};
