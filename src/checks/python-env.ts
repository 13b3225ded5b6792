import { type Check, fail, pass } from './check.js';
import { ENV_PY } from './py/probes.js';
import { arr, num, probeProblem, resolvePython, runProbe, str } from './probe.js';

/**
 * python.env: the probes' python imports torch, torch sees CUDA and as many GPUs as nvidia-smi, and a small
 * kernel gives the right sum on each. Records python/torch/CUDA/NCCL/transformers/vLLM versions.
 */
export const pythonEnv: Check = {
  id: 'python.env',
  title: 'Python with torch sees every GPU',
  needs: ['gpu.inventory'],
  timeoutMs: 180_000,
  async run(ctx) {
    const py = await resolvePython(ctx);
    const r = await runProbe(ctx, 'env', ENV_PY);
    const problem = probeProblem(r, `python.env with ${py.path}`);
    if (problem) return problem;
    const j = r.json!;
    const versions: Record<string, string> = { python_path: str(j.executable) ?? py.path, python: str(j.python) ?? 'unknown' };
    for (const k of ['torch', 'torch_cuda', 'nccl', 'transformers', 'huggingface_hub', 'safetensors', 'tokenizers', 'accelerate'] as const) {
      const v = str(j[k]);
      if (v) versions[k] = v;
    }
    versions.vllm = str(j.vllm) ?? 'none';
    const detail = [
      `python: ${py.path} (${py.why})`,
      ...arr(j.devices).map((d) => `cuda:${num(d.index)} ${str(d.name)} cc ${str(d.capability)} ${num(d.memory_mib)} MiB ${num(d.sms)} SMs`),
    ].join('\n');
    if (str(j.torch_error)) return fail(`torch cannot be imported by ${py.path}: ${str(j.torch_error)}`, { versions, detail });
    if (j.cuda_available !== true) return fail(`torch ${versions.torch} (CUDA ${versions.torch_cuda ?? 'none'}) does not see CUDA`, { versions, detail });
    const count = num(j.device_count) ?? 0;
    const smi = ctx.state.nvsmi?.gpus.length;
    const metrics = { cuda_devices: count };
    if (smi !== undefined && count !== smi) return fail(`torch sees ${count} GPU(s), nvidia-smi ${smi}`, { versions, detail, metrics });
    if (j.kernel_ok === false) return fail('a small CUDA kernel gave a wrong sum', { versions, detail, metrics });
    return pass({ reason: `torch ${versions.torch} CUDA ${versions.torch_cuda} sees ${count} GPU(s)`, versions, detail, metrics });
  },
};
