import { join } from 'node:path';
import { type Check, fail, pass, round, skip } from './check.js';
import { inferenceModel } from './inference-transformers.js';
import { snapshotDir } from './models.js';
import { VLLM_PY } from './py/probes.js';
import { num, probeProblem, runProbe, str } from './probe.js';

/**
 * inference.vllm: vLLM's offline API (LLM(model=<snapshot path>).generate, 16 tokens at temperature 0 with
 * ignore_eos, twice, identical) and `vllm serve` (GET /health 200, GET /v1/models, one POST /v1/completions).
 * Without vLLM on the box: skip, "vLLM not installed".
 */
export const inferenceVllm: Check = {
  id: 'inference.vllm',
  title: 'vLLM offline generate and OpenAI-compatible serve',
  needs: ['models.load'],
  load: true,
  timeoutMs: 1_200_000,
  async run(ctx) {
    const o = ctx.options.vllm ?? {};
    const m = inferenceModel(ctx, o.model ?? ctx.options.inference?.model);
    if (!m) return skip('no models in the bundle');
    const path = snapshotDir(m);
    const common = ['--model', path, '--tokens', '16', '--mem', String(o.gpuMemoryUtilization ?? 0.5)];
    const env = { HF_HOME: m.home };
    const off = await runProbe(ctx, 'vllm-offline', VLLM_PY, ['--mode', 'offline', ...common], { env });
    if (off.json && typeof off.json.skip === 'string') return skip(off.json.skip, { detail: str(off.json.import_error) });
    const problem = probeProblem(off, 'vLLM offline generate');
    if (problem) return problem;
    const j = off.json!;
    const versions = { vllm: str(j.vllm) ?? 'unknown' };
    const metrics: Record<string, number> = {
      offline_tokens: num(j.tokens) ?? 0,
      offline_tok_s: round(num(j.tok_s) ?? 0, 1),
      offline_load_sec: round(num(j.load_sec) ?? 0, 1),
    };
    const thresholds: Record<string, string | number> = { model: path, tokens: 16 };
    const problems: string[] = [];
    if (num(j.tokens) !== 16) problems.push(`offline generate gave ${num(j.tokens)} tokens, 16 asked (ignore_eos)`);
    if (j.deterministic !== true) problems.push('two greedy generations of the same prompt differ');
    const detail = [`offline: ${JSON.stringify(str(j.text) ?? '')}`];
    if (o.serve !== false) {
      const timeout = o.timeoutSec ?? 600;
      const s = await runProbe(
        ctx,
        'vllm-serve',
        VLLM_PY,
        ['--mode', 'serve', ...common, '--timeout', String(timeout), '--log', join(ctx.rawDir, 'vllm-serve.log')],
        { env },
      );
      const sp = probeProblem(s, 'vllm serve');
      if (sp) {
        problems.push(sp.reason ?? 'vllm serve failed');
        const tail = s.json?.log_tail; // the last lines of vllm's log, a string (vllm.py)
        if (tail) detail.push(typeof tail === 'string' ? tail : JSON.stringify(tail));
      } else {
        const sj = s.json!;
        metrics.serve_ready_sec = round(num(sj.ready_sec) ?? 0, 1);
        metrics.serve_completion_ms = round((num(sj.completion_sec) ?? 0) * 1000, 1);
        if (num(sj.status) !== 200) problems.push(`/v1/completions answered ${num(sj.status)}`);
        if (!str(sj.text)) problems.push('/v1/completions returned no text');
        detail.push(`serve: ready in ${metrics.serve_ready_sec} s, models ${JSON.stringify(sj.models)}, ${JSON.stringify(str(sj.text) ?? '')}`);
      }
    }
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, versions, detail: detail.join('\n') })
      : pass({
          reason: `vLLM ${versions.vllm}: offline ${metrics.offline_tok_s} tokens/s${o.serve !== false ? ', serve answered' : ''}`,
          metrics,
          thresholds,
          versions,
          detail: detail.join('\n'),
        });
  },
};
