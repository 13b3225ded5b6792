import { type XmlNode, child, numAt, parseXml, textAt } from './xml.js';

/** One GPU as `nvidia-smi -q -x` describes it (values "N/A" become undefined). */
export interface NvsmiGpu {
  busId: string;
  index: number;
  name: string;
  uuid?: string;
  architecture?: string;
  memoryTotalMiB?: number;
  pcie: { genMax?: number; genCurrent?: number; genHostMax?: number; widthMax?: number; widthCurrent?: number; replays?: number };
  ecc: {
    mode?: string;
    /** Uncorrectable errors since the driver loaded (DRAM + SRAM; or the older double_bit totals). */
    volatileUncorrectable?: number;
    volatileCorrectable?: number;
    /** Uncorrectable errors over the GPU's lifetime. */
    aggregateUncorrectable?: number;
    aggregateCorrectable?: number;
  };
  retiredPages: { doubleBit?: number; singleBit?: number; pending?: boolean };
  remappedRows: { correctable?: number; uncorrectable?: number; pending?: boolean; failure?: boolean };
  temperature: { gpuC?: number; tlimitC?: number; memoryC?: number };
  power: { drawW?: number; limitW?: number };
  clocks: { smMhz?: number; smMaxMhz?: number };
  /** clocks_event_reason_* (or the older clocks_throttle_reason_*) names that are Active. */
  activeReasons: string[];
}

export interface NvsmiLog {
  driverVersion?: string;
  cudaVersion?: string;
  attachedGpus: number;
  gpus: NvsmiGpu[];
}

const yes = (v: string | undefined): boolean | undefined => (v === undefined ? undefined : /^yes$/i.test(v));

/** Parses `nvidia-smi -q -x`. Works with the 580 DTD (v13) and the older layouts (throttle reasons, single/double bit ECC). */
export function parseNvidiaSmiXml(xml: string): NvsmiLog {
  const root = parseXml(xml);
  if (root.name !== 'nvidia_smi_log') throw new Error(`not nvidia-smi XML (root <${root.name}>)`);
  const gpus = root.children.filter((c) => c.name === 'gpu').map(parseGpu);
  return {
    driverVersion: textAt(root, 'driver_version'),
    cudaVersion: textAt(root, 'cuda_version'),
    attachedGpus: numAt(root, 'attached_gpus') ?? gpus.length,
    gpus,
  };
}

function parseGpu(g: XmlNode, index: number): NvsmiGpu {
  const link = child(g, 'pci/pci_gpu_link_info');
  const ecc = child(g, 'ecc_errors');
  const sum = (n: XmlNode | undefined, names: string[]): number | undefined => {
    const vals = names.map((p) => numAt(n, p)).filter((v): v is number => v !== undefined);
    return vals.length ? vals.reduce((a, b) => a + b, 0) : undefined;
  };
  // 580: dram_/sram_ counters; older drivers: single_bit/double_bit with a <total>.
  const unc = (scope: string) =>
    sum(child(ecc, scope), ['dram_uncorrectable', 'sram_uncorrectable_parity', 'sram_uncorrectable_secded', 'sram_uncorrectable']) ??
    numAt(ecc, `${scope}/double_bit/total`);
  const cor = (scope: string) => sum(child(ecc, scope), ['dram_correctable', 'sram_correctable']) ?? numAt(ecc, `${scope}/single_bit/total`);
  const reasons = child(g, 'clocks_event_reasons') ?? child(g, 'clocks_throttle_reasons');
  const activeReasons = (reasons?.children ?? [])
    .filter((c) => /^active$/i.test(c.text.trim()))
    .map((c) => c.name.replace(/^clocks_(event|throttle)_reason_/, '').replace(/^clocks_throttle_reason_/, ''));
  return {
    busId: g.attrs.id ?? textAt(g, 'pci/pci_bus_id') ?? `#${index}`,
    index,
    name: textAt(g, 'product_name') ?? 'unknown GPU',
    uuid: textAt(g, 'uuid'),
    architecture: textAt(g, 'product_architecture'),
    memoryTotalMiB: numAt(g, 'fb_memory_usage/total'),
    pcie: {
      genMax: numAt(link, 'pcie_gen/max_link_gen'),
      genCurrent: numAt(link, 'pcie_gen/current_link_gen'),
      genHostMax: numAt(link, 'pcie_gen/max_host_link_gen'),
      widthMax: numAt(link, 'link_widths/max_link_width'),
      widthCurrent: numAt(link, 'link_widths/current_link_width'),
      replays: numAt(g, 'pci/replay_counter'),
    },
    ecc: {
      mode: textAt(g, 'ecc_mode/current_ecc'),
      volatileUncorrectable: unc('volatile'),
      volatileCorrectable: cor('volatile'),
      aggregateUncorrectable: unc('aggregate'),
      aggregateCorrectable: cor('aggregate'),
    },
    retiredPages: {
      doubleBit: numAt(g, 'retired_pages/double_bit_retirement/retired_count'),
      singleBit: numAt(g, 'retired_pages/multiple_single_bit_retirement/retired_count'),
      pending: yes(textAt(g, 'retired_pages/pending_retirement')),
    },
    remappedRows: {
      correctable: numAt(g, 'remapped_rows/remapped_row_corr'),
      uncorrectable: numAt(g, 'remapped_rows/remapped_row_unc'),
      pending: yes(textAt(g, 'remapped_rows/remapped_row_pending')),
      failure: yes(textAt(g, 'remapped_rows/remapped_row_failure')),
    },
    temperature: { gpuC: numAt(g, 'temperature/gpu_temp'), tlimitC: numAt(g, 'temperature/gpu_temp_tlimit'), memoryC: numAt(g, 'temperature/memory_temp') },
    power: {
      drawW: numAt(g, 'gpu_power_readings/instant_power_draw') ?? numAt(g, 'gpu_power_readings/power_draw') ?? numAt(g, 'power_readings/power_draw'),
      limitW: numAt(g, 'gpu_power_readings/current_power_limit') ?? numAt(g, 'power_readings/power_limit'),
    },
    clocks: { smMhz: numAt(g, 'clocks/sm_clock'), smMaxMhz: numAt(g, 'max_clocks/sm_clock') },
    activeReasons,
  };
}

/** Runs `nvidia-smi -q -x`; a missing tool or a driver it cannot talk to is returned as a problem, not thrown. */
export async function readNvidiaSmi(
  exec: (
    cmd: string,
    args: readonly string[],
    o?: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; timeoutMs?: number },
  ) => Promise<{ code: number; stdout: string; stderr: string }>,
  o: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<{ log: NvsmiLog; xml: string } | { problem: string; xml?: string }> {
  const r = await exec('nvidia-smi', ['-q', '-x'], { ...o, timeoutMs: 60_000 });
  if (r.code === 127) return { problem: 'nvidia-smi not found: no NVIDIA driver is installed on this box (or it is not on PATH)' };
  if (r.code !== 0) {
    const msg =
      `${r.stdout}\n${r.stderr}`
        .split('\n')
        .map((l) => l.trim())
        .find(Boolean) ?? '';
    return { problem: `nvidia-smi failed (exit ${r.code})${msg ? `: ${msg}` : ''}`, xml: r.stdout };
  }
  try {
    return { log: parseNvidiaSmiXml(r.stdout), xml: r.stdout };
  } catch (err) {
    return { problem: `cannot read nvidia-smi's XML: ${(err as Error).message}`, xml: r.stdout };
  }
}
