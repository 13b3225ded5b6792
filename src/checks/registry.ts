import type { Check } from './check.js';
import { gpuEccXid } from './gpu-ecc-xid.js';
import { gpuH2d } from './gpu-h2d.js';
import { gpuInventory } from './gpu-inventory.js';
import { gpuMatmul } from './gpu-matmul.js';
import { gpuMembw } from './gpu-membw.js';
import { gpuPcie } from './gpu-pcie.js';
import { gpuThermal } from './gpu-thermal.js';
import { inferenceTransformers } from './inference-transformers.js';
import { inferenceVllm } from './inference-vllm.js';
import { modelsLoad } from './models-load.js';
import { ncclAllreduce } from './nccl-allreduce.js';
import { pythonEnv } from './python-env.js';

/**
 * Every check, in run order: inventory → python → compute and bandwidth under load (sampled) → models and
 * inference → thermal verdict → PCIe (read after load) → ECC/Xid (last, to cover the whole run).
 * Adding a check: one file and one line here.
 */
export const checks: readonly Check[] = [
  gpuInventory,
  pythonEnv,
  gpuMatmul,
  gpuMembw,
  gpuH2d,
  ncclAllreduce,
  modelsLoad,
  inferenceTransformers,
  inferenceVllm,
  gpuThermal,
  gpuPcie,
  gpuEccXid,
];
