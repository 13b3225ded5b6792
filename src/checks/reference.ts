/**
 * Reference figures per GPU model, measured on real boxes (shared/design/verifier.md §0, §5, §9). A check
 * passes at a fraction of them; models without a figure are judged only by floors and the saved baseline.
 */
export interface Reference {
  /** Dense bf16 torch.matmul 8192³, TFLOP/s. */
  matmulBf16Tflops?: number;
  /** D2D copy, bytes read + written, GB/s. */
  membwGbps?: number;
  /** torch all_reduce busbw at 1–2 GiB by GPU count, GB/s. */
  allreduceBusbwGbps?: Record<number, number>;
  /** nccl-tests all_reduce_perf busbw at the largest size by GPU count, GB/s. */
  ncclTestsBusbwGbps?: Record<number, number>;
}

const H200: Reference = {
  matmulBf16Tflops: 790,
  membwGbps: 4256,
  allreduceBusbwGbps: { 2: 327 },
  ncclTestsBusbwGbps: { 2: 340 },
};

/** Exact nvidia-smi product names. */
export const REFERENCES: Record<string, Reference> = {
  'NVIDIA H200': H200,
};

export function referenceFor(model: string | undefined): Reference | undefined {
  return model ? REFERENCES[model] : undefined;
}

/** Theoretical PCIe bandwidth per direction, GB/s, per lane and generation (after line encoding). */
const PER_LANE_GBPS: Record<number, number> = { 1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563 };

/** Floor for pinned host↔device copies on a link: 63.5 % of its theoretical rate (40 GB/s on Gen5 x16; 55 measured on H200). */
export function pcieFloorGbps(gen: number | undefined, width: number | undefined): number | undefined {
  const lane = gen !== undefined ? PER_LANE_GBPS[gen] : undefined;
  if (lane === undefined || !width) return undefined;
  return Math.round(lane * width * 0.635 * 10) / 10;
}

/**
 * The minimum a first run (no baseline) is judged by: an explicit minimum; else the floor fraction of the
 * datasheet figure (gpu-datasheets.ts, where the floors are argued); else a fraction of a figure measured
 * on a real box of that model; else none, and the check says "no reference" honestly.
 */
export function firstRunFloor(
  model: string,
  o: {
    explicit?: number;
    ratio?: number;
    datasheet?: number;
    product?: string;
    floor: number;
    measured?: number;
    measuredRatio: number;
    what: string;
    digits: number;
  },
): { min?: number; reference?: string } {
  const r = (x: number) => Math.round(x * 10 ** o.digits) / 10 ** o.digits;
  if (o.explicit !== undefined) return { min: o.explicit };
  if (o.datasheet !== undefined) {
    const ratio = o.ratio ?? o.floor;
    return { min: r(ratio * o.datasheet), reference: `${ratio} × ${o.datasheet} ${o.what} (${o.product ?? model} datasheet)` };
  }
  if (o.measured !== undefined) {
    const ratio = o.ratio ?? o.measuredRatio;
    return { min: r(ratio * o.measured), reference: `${ratio} × ${o.measured} (${model})` };
  }
  return {};
}
