/**
 * What the common GPUs are rated for, from the vendor's datasheets: the reference smoke judges a first run
 * against when there is no baseline yet (gpu.matmul, gpu.membw, gpu.pcie). Data only; looked up by the name
 * `nvidia-smi --query-gpu=name` prints (the `names` of a row, compared without case or repeated spaces).
 *
 * Figures per GPU, as the datasheet gives them:
 * - `bf16Tflops`: dense BF16 Tensor Core TFLOP/s with FP32 accumulate (datasheets print the 2:4-sparse figure
 *   with an asterisk: dense is half of it). For GeForce cards, the FP32-accumulate rate (half the FP16-accumulate
 *   rate), which is what torch.matmul in bf16 uses.
 * - `memGbps`: memory bandwidth, GB/s (10^9 bytes per second; 3.35 TB/s = 3350).
 * - `pcie`: the card's host interface; `nvlinkGbps`: NVLink bandwidth per GPU (both directions) where it applies.
 *
 * FLOORS: a healthy GPU reaches these fractions of its datasheet figure; below is a sick or throttled GPU.
 * Chosen from the real runs in bench/results, measured as the checks measure (bf16 8192³ torch.matmul, best
 * batch; a device-to-device copy counting bytes read + written):
 * - matmul ≥ 0.70 × dense BF16 peak. Measured: H200 790-803 TFLOP/s of 989 (0.80-0.81;
 *   bench/results/2026-11-29-h200-smoke, 2026-12-01-h200x2-smoke), H100 SXM 782-790 of 989 (0.79-0.80; the
 *   field run of issue #15). Real GEMMs stop near 80 % of peak (clocks under load, power capping), so 0.70
 *   leaves ~12 % for box-to-box and run-to-run spread, and still fails a GPU stuck at reduced clocks or power
 *   (a power-capped or thermally throttled Hopper lands near 0.55-0.65).
 * - memory ≥ 0.80 × rated bandwidth. Measured: H200 4250-4260 GB/s of 4800 (0.885), H100 SXM 3025-3034 of 3350
 *   (0.90-0.91). 0.80 leaves ~10 % below the lowest healthy run; a GPU with memory clocks down or a bad HBM
 *   stack is well below.
 * - PCIe: the link's maximum generation and width as nvidia-smi reads them must be the card's own (a Gen5 x16
 *   card that links at most at Gen4 or x8 sits in the wrong slot, riser or BIOS setting: host-device copies are
 *   halved).
 * Rows not yet measured on a real box (every one but H100 SXM and H200) are judged with the same fractions;
 * PCIe cards with low power limits (L4 at 72 W) may sit closer to the floor: a saved baseline of a healthy
 * box (--save-baseline) is the better judge from then on.
 */
export interface GpuDatasheet {
  /** The product as the vendor names it. */
  product: string;
  /** Names nvidia-smi prints for it (`nvidia-smi --query-gpu=name`). */
  names: string[];
  bf16Tflops: number;
  memGbps: number;
  memGb: number;
  pcie: { gen: number; width: number };
  nvlinkGbps?: number;
  /** The vendor datasheet (or architecture whitepaper) the figures are from. */
  source: string;
  /** How a figure was derived when the datasheet does not print it as such. */
  note?: string;
}

export const MATMUL_FLOOR = 0.7;
export const MEMBW_FLOOR = 0.8;

const HOPPER_DATASHEET = 'https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet';
const A100_DATASHEET = 'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf';
const H200_DATASHEET = 'https://www.nvidia.com/en-us/data-center/h200/';
const BLACKWELL_RTX = 'https://images.nvidia.com/aem-dam/Solutions/geforce/blackwell/nvidia-rtx-blackwell-gpu-architecture.pdf';

export const GPU_DATASHEETS: readonly GpuDatasheet[] = [
  {
    product: 'H100 SXM5 80GB',
    names: ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 SXM5 80GB'],
    bf16Tflops: 989,
    memGbps: 3350,
    memGb: 80,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 900,
    source: HOPPER_DATASHEET,
    note: 'BF16 1,979 TFLOPS with sparsity',
  },
  {
    product: 'H100 PCIe 80GB',
    names: ['NVIDIA H100 PCIe'],
    bf16Tflops: 756,
    memGbps: 2000,
    memGb: 80,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 600,
    source: HOPPER_DATASHEET,
    note: 'BF16 1,513 TFLOPS with sparsity; NVLink through a 2-way bridge',
  },
  {
    product: 'H100 NVL 94GB',
    names: ['NVIDIA H100 NVL'],
    bf16Tflops: 835,
    memGbps: 3900,
    memGb: 94,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 600,
    source: HOPPER_DATASHEET,
    note: 'BF16 1,671 TFLOPS with sparsity; NVLink through a 2-way bridge',
  },
  {
    product: 'H200 SXM 141GB',
    names: ['NVIDIA H200'],
    bf16Tflops: 989,
    memGbps: 4800,
    memGb: 141,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 900,
    source: H200_DATASHEET,
    note: 'BF16 1,979 TFLOPS with sparsity',
  },
  {
    product: 'H200 NVL 141GB',
    names: ['NVIDIA H200 NVL'],
    bf16Tflops: 835,
    memGbps: 4800,
    memGb: 141,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 900,
    source: H200_DATASHEET,
    note: 'BF16 1,671 TFLOPS with sparsity; NVLink through a 2- or 4-way bridge',
  },
  {
    product: 'A100 SXM4 40GB',
    names: ['NVIDIA A100-SXM4-40GB'],
    bf16Tflops: 312,
    memGbps: 1555,
    memGb: 40,
    pcie: { gen: 4, width: 16 },
    nvlinkGbps: 600,
    source: A100_DATASHEET,
  },
  {
    product: 'A100 SXM4 80GB',
    names: ['NVIDIA A100-SXM4-80GB'],
    bf16Tflops: 312,
    memGbps: 2039,
    memGb: 80,
    pcie: { gen: 4, width: 16 },
    nvlinkGbps: 600,
    source: A100_DATASHEET,
  },
  {
    product: 'A100 PCIe 40GB',
    names: ['NVIDIA A100-PCIE-40GB', 'NVIDIA A100 PCIe 40GB'],
    bf16Tflops: 312,
    memGbps: 1555,
    memGb: 40,
    pcie: { gen: 4, width: 16 },
    source: A100_DATASHEET,
  },
  {
    product: 'A100 PCIe 80GB',
    names: ['NVIDIA A100 80GB PCIe', 'NVIDIA A100-PCIE-80GB'],
    bf16Tflops: 312,
    memGbps: 1935,
    memGb: 80,
    pcie: { gen: 4, width: 16 },
    source: A100_DATASHEET,
  },
  {
    product: 'L40S',
    names: ['NVIDIA L40S'],
    bf16Tflops: 362,
    memGbps: 864,
    memGb: 48,
    pcie: { gen: 4, width: 16 },
    source: 'https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413',
    note: 'BF16 733 TFLOPS with sparsity',
  },
  {
    product: 'L4',
    names: ['NVIDIA L4'],
    bf16Tflops: 121,
    memGbps: 300,
    memGb: 24,
    pcie: { gen: 4, width: 16 },
    source: 'https://resources.nvidia.com/en-us-data-center-overview/l4-gpu-datasheet',
    note: 'BF16 242 TFLOPS with sparsity; 72 W card',
  },
  {
    product: 'RTX 6000 Ada Generation',
    names: ['NVIDIA RTX 6000 Ada Generation'],
    bf16Tflops: 364,
    memGbps: 960,
    memGb: 48,
    pcie: { gen: 4, width: 16 },
    source: 'https://images.nvidia.com/aem-dam/Solutions/Data-Center/l4/nvidia-ada-gpu-architecture-whitepaper-v2.1.pdf',
    note: 'Ada whitepaper, RTX 6000 Ada: peak BF16 Tensor TFLOPS with FP32 accumulate 364.2 (728.5 with sparsity); datasheet: 960 GB/s GDDR6',
  },
  {
    product: 'RTX PRO 6000 Blackwell',
    names: [
      'NVIDIA RTX PRO 6000 Blackwell Workstation Edition',
      'NVIDIA RTX PRO 6000 Blackwell Server Edition',
      'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition',
    ],
    bf16Tflops: 504,
    memGbps: 1792,
    memGb: 96,
    pcie: { gen: 5, width: 16 },
    source:
      'https://www.nvidia.com/content/dam/en-zz/Solutions/data-center/rtx-pro-6000-blackwell-workstation-edition/workstation-blackwell-rtx-pro-6000-workstation-edition-nvidia-us-3519208-web.pdf',
    note: 'datasheet prints 4,000 AI TOPS (FP4, sparse); dense BF16 = 4000 / 2 (sparsity) / 4 (FP4 → BF16) ≈ 500, whitepaper 503.8; the Max-Q (300 W) sits lower',
  },
  {
    product: 'GeForce RTX 5090',
    names: ['NVIDIA GeForce RTX 5090'],
    bf16Tflops: 209.5,
    memGbps: 1792,
    memGb: 32,
    pcie: { gen: 5, width: 16 },
    source: BLACKWELL_RTX,
    note: 'RTX Blackwell whitepaper, RTX 5090: peak FP16/BF16 Tensor TFLOPS with FP32 accumulate 209.5 (419 with FP16 accumulate)',
  },
  {
    product: 'B200 (HGX B200)',
    names: ['NVIDIA B200'],
    bf16Tflops: 2250,
    memGbps: 8000,
    memGb: 180,
    pcie: { gen: 5, width: 16 },
    nvlinkGbps: 1800,
    source: 'https://www.nvidia.com/en-us/data-center/hgx/',
    note: 'HGX B200 (8 GPUs): FP16/BF16 36 PFLOPS with sparsity, 64 TB/s HBM3e, 1.4 TB: per GPU 2.25 PFLOPS dense, 8 TB/s, 180 GB',
  },
];

const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

/** The datasheet row for a name as nvidia-smi prints it; undefined for a GPU the table does not know. */
export function gpuDatasheet(name: string | undefined): GpuDatasheet | undefined {
  if (!name) return undefined;
  const n = norm(name);
  return GPU_DATASHEETS.find((d) => d.names.some((x) => norm(x) === n));
}
