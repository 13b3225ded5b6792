import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Check, fail, pass, round, skip } from './check.js';
import type { ModelRef } from './models.js';
import { MODELS_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe, str } from './probe.js';

/**
 * models.load: every HF model of the bundle loads with transformers (AutoTokenizer, AutoConfig,
 * AutoModelForCausalLM, else AutoModel) from HF_HOME with HF_HUB_OFFLINE=1, onto the GPU, and one forward pass
 * gives finite logits. One probe per HF_HOME.
 */
export const modelsLoad: Check = {
  id: 'models.load',
  title: 'Every bundled model loads offline onto the GPU',
  needs: ['python.env'],
  load: true,
  timeoutMs: 900_000,
  async run(ctx) {
    const models = ctx.state.models;
    if (!models.length) return skip('no models in the bundle (give --bundle)');
    const byHome = new Map<string, ModelRef[]>();
    for (const m of models) byHome.set(m.home, [...(byHome.get(m.home) ?? []), m]);
    const metrics: Record<string, number> = { models: models.length };
    const problems: string[] = [];
    const detail: string[] = [];
    let k = 0;
    for (const [home, list] of byHome) {
      const spec = join(ctx.workDir, `models-${k}.json`);
      await writeFile(spec, JSON.stringify({ models: list.map((m) => ({ repo: m.repo, commit: m.commit })) }));
      const r = await runProbe(ctx, `models-${k++}`, MODELS_PY, [spec], { env: { HF_HOME: home } });
      const problem = probeProblem(r, `loading models from ${home}`);
      if (problem) return { ...problem, metrics };
      for (const m of arr(r.json!.models)) {
        const repo = str(m.repo) ?? '?';
        const key = repo.replace(/[^\w.-]+/g, '_');
        if (m.ok === true) {
          metrics[`${key}_load_sec`] = round(num(m.load_sec) ?? 0, 2);
          detail.push(
            `${repo}@${(str(m.commit) ?? '').slice(0, 12)}: ${str(m.model_type)} ${num(m.params)} params ${str(m.dtype)} on ${str(m.device)} in ${round(num(m.load_sec) ?? 0, 2)} s`,
          );
        } else {
          problems.push(`${repo}: ${str(m.error) ?? 'failed'}`);
          detail.push(`${repo}: ${str(m.error)}\n${str(m.trace) ?? ''}`);
        }
      }
    }
    const thresholds = { HF_HUB_OFFLINE: 1, homes: [...byHome.keys()].join(',') };
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, detail: detail.join('\n') })
      : pass({ reason: `${models.length} model(s) loaded offline`, metrics, thresholds, detail: detail.join('\n') });
  },
};
