import { embedded } from '../../util/embed.js';

// The Python probes smoke runs on the box, as real .py files beside this module (py_compile reads them:
// test/box-scripts.test.ts). Each prints one JSON line on stdout.

/**
 * nccl.allreduce probe, run by torchrun (one process per GPU): correctness (each rank fills rank+1, expects
 * n(n+1)/2 everywhere), then 20 timed all_reduces per size; busbw = algbw · 2(n-1)/n as nccl-tests computes it.
 * Rank 0 prints the JSON line.
 */
export const ALLREDUCE_PY = embedded(new URL('./allreduce.py', import.meta.url));

/** python.env probe: python, torch, CUDA as torch sees it, NCCL, library versions (read from metadata, not imported). */
export const ENV_PY = embedded(new URL('./env.py', import.meta.url));

/**
 * inference.transformers probe: greedy generation of exactly N new tokens (min = max = N) with a bundled causal
 * LM on each GPU in turn, after a short warm-up; tokens/s = N / wall time of the timed generate.
 */
export const GENERATE_PY = embedded(new URL('./generate.py', import.meta.url));

/** gpu.h2d probe: pinned host ↔ device copies of `gib` GiB on each GPU, each way, CUDA events, median of 5. */
export const H2D_PY = embedded(new URL('./h2d.py', import.meta.url));

/**
 * gpu.matmul probe: n×n bf16 products on each GPU in turn, 3 warm-ups, then batches of `iters` products timed
 * with CUDA events for about `seconds`; TFLOP/s = 2·n³·iters / time. Reports the best batch (the burst rate the
 * reference figures are measured as) and the median (sustained: under a power cap the clocks drop after ~1 s).
 */
export const MATMUL_PY = embedded(new URL('./matmul.py', import.meta.url));

/** gpu.membw probe: device-to-device copy of `gib` GiB on each GPU, bytes read + written, CUDA events, median of 5. */
export const MEMBW_PY = embedded(new URL('./membw.py', import.meta.url));

/**
 * models.load probe: every model of a spec file loads from the HF cache under HF_HOME with HF_HUB_OFFLINE=1
 * (tokenizer, config, weights) onto cuda:0, and one forward pass gives finite logits. One result per model;
 * a model whose snapshot is not in the cache is "not installed" (checked before torch is imported).
 */
export const MODELS_PY = embedded(new URL('./models.py', import.meta.url));

/**
 * inference.vllm probe. `--mode offline`: vLLM's documented offline API (LLM(model=path).generate) at
 * temperature 0, 16 tokens with ignore_eos, twice (must match), plus a batch for tokens/s. `--mode serve`:
 * `vllm serve <path>` on 127.0.0.1, poll GET /health until 200, GET /v1/models, one POST /v1/completions,
 * then stop the server. Without vLLM: {"skip": "vLLM not installed"}.
 */
export const VLLM_PY = embedded(new URL('./vllm.py', import.meta.url));
