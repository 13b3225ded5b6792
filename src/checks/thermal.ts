/**
 * Thermal/power sampling with `nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms 500` while the
 * load checks run, and its judgement. Power capping (sw_power_cap) is how a loaded H200 normally runs and is
 * not a failure; HW slowdown, HW/SW thermal slowdown and HW power brake are.
 */
import { spawn } from 'node:child_process';
import type { CheckExec } from './proc.js';
import { signalChild } from '../util/proc.js';

/** clocks_event_reasons bits (NVML nvmlClocksEventReason*, go-nvml nvml.h). */
export const THROTTLE_BITS: readonly { bit: number; name: string; bad: boolean }[] = [
  { bit: 0x1, name: 'gpu_idle', bad: false },
  { bit: 0x2, name: 'applications_clocks_setting', bad: false },
  { bit: 0x4, name: 'sw_power_cap', bad: false },
  { bit: 0x8, name: 'hw_slowdown', bad: true },
  { bit: 0x10, name: 'sync_boost', bad: false },
  { bit: 0x20, name: 'sw_thermal_slowdown', bad: true },
  { bit: 0x40, name: 'hw_thermal_slowdown', bad: true },
  { bit: 0x80, name: 'hw_power_brake_slowdown', bad: true },
  { bit: 0x100, name: 'display_clock_setting', bad: false },
];

/** Names of the reasons set in a mask ("0x0000000000000044", 68n, 68), and which of them fail a check. */
export function decodeThrottle(mask: string | number | bigint): { names: string[]; bad: string[]; unknownBits: bigint } {
  const m =
    typeof mask === 'bigint'
      ? mask
      : typeof mask === 'number'
        ? BigInt(mask)
        : BigInt(mask.trim().toLowerCase().startsWith('0x') ? mask.trim() : `0x${mask.trim()}`);
  const names: string[] = [];
  const bad: string[] = [];
  let known = 0n;
  for (const b of THROTTLE_BITS) {
    known |= BigInt(b.bit);
    if (m & BigInt(b.bit)) {
      names.push(b.name);
      if (b.bad) bad.push(b.name);
    }
  }
  return { names, bad, unknownBits: m & ~known };
}

export interface ThermalSample {
  /** Milliseconds since the epoch (nvidia-smi's local timestamp). */
  t: number;
  gpu: number;
  tempC?: number;
  powerW?: number;
  smMhz?: number;
  /** clocks_event_reasons.active as nvidia-smi prints it ("0x0000000000000004"). */
  reasons?: string;
  /** Degrees of headroom before T.Limit (temperature.gpu.tlimit). */
  tlimitC?: number;
  pcieGen?: number;
  pcieWidth?: number;
}

/** What the sampler asks for, newest names first; the fallback is for drivers older than the event-reason rename. */
export const SAMPLER_FIELDS = [
  'timestamp',
  'index',
  'temperature.gpu',
  'power.draw',
  'clocks.sm',
  'clocks_event_reasons.active',
  'temperature.gpu.tlimit',
  'pcie.link.gen.current',
  'pcie.link.width.current',
] as const;
export const SAMPLER_FIELDS_OLD = ['timestamp', 'index', 'temperature.gpu', 'power.draw', 'clocks.sm', 'clocks_throttle_reasons.active'] as const;

const FIELD_KEY: Record<string, keyof ThermalSample | 'timestamp'> = {
  timestamp: 'timestamp',
  index: 'gpu',
  'temperature.gpu': 'tempC',
  'power.draw': 'powerW',
  'clocks.sm': 'smMhz',
  'clocks.current.sm': 'smMhz',
  'clocks_event_reasons.active': 'reasons',
  'clocks_throttle_reasons.active': 'reasons',
  'temperature.gpu.tlimit': 'tlimitC',
  'pcie.link.gen.current': 'pcieGen',
  'pcie.link.gen.gpucurrent': 'pcieGen',
  'pcie.link.width.current': 'pcieWidth',
};

/** "2026/11/28 15:45:10.659" (local time) → epoch ms. */
export function parseSmiTimestamp(s: string): number {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(s.trim());
  if (!m) return NaN;
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms).getTime();
}

/** One CSV line of the sampler (fields in `fields` order); units ("W", "MHz") and [N/A] are tolerated. */
export function parseSampleLine(line: string, fields: readonly string[]): ThermalSample | undefined {
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length < fields.length) return undefined;
  const s: Partial<ThermalSample> & { t?: number } = {};
  fields.forEach((f, i) => {
    const key = FIELD_KEY[f.replace(/\s*\[.*\]$/, '')];
    const v = cells[i]!;
    if (!key || /^\[?(N\/A|Not Supported|Unknown Error)\]?$/i.test(v)) return;
    if (key === 'timestamp') s.t = parseSmiTimestamp(v);
    else if (key === 'reasons') s.reasons = v;
    else {
      const num = Number(/^-?\d+(\.\d+)?/.exec(v)?.[0] ?? NaN);
      if (Number.isFinite(num)) (s as Record<string, number>)[key] = num;
    }
  });
  if (!Number.isFinite(s.t) || s.gpu === undefined) return undefined;
  return s as ThermalSample;
}

/** A CSV with a header, as `--format=csv` writes it (units in the header), e.g. a recorded burn. */
export function parseSmiCsv(text: string): ThermalSample[] {
  const [head, ...lines] = text.split('\n').filter((l) => l.trim());
  if (!head) return [];
  const fields = head.split(',').map((h) => h.trim().replace(/\s*\[.*\]$/, ''));
  return lines.map((l) => parseSampleLine(l, fields)).filter((s): s is ThermalSample => s !== undefined);
}

export const CSV_HEADER = 'timestamp,gpu,temp_c,power_w,sm_mhz,throttle_reasons,throttle_names,tlimit_c,pcie_gen,pcie_width';

/** thermal.csv: one row per sample, timestamps in ISO 8601 (UTC). */
export function samplesToCsv(samples: readonly ThermalSample[]): string {
  const v = (x: number | undefined) => (x === undefined ? '' : String(x));
  const rows = samples.map((s) =>
    [
      new Date(s.t).toISOString(),
      s.gpu,
      v(s.tempC),
      v(s.powerW),
      v(s.smMhz),
      s.reasons ?? '',
      s.reasons ? decodeThrottle(s.reasons).names.join('|') : '',
      v(s.tlimitC),
      v(s.pcieGen),
      v(s.pcieWidth),
    ].join(','),
  );
  return `${[CSV_HEADER, ...rows].join('\n')}\n`;
}

export interface ThermalVerdict {
  ok: boolean;
  problems: string[];
  metrics: Record<string, number>;
  thresholds: Record<string, string | number>;
  perGpu: {
    gpu: number;
    samples: number;
    maxTempC?: number;
    maxPowerW?: number;
    minTlimitC?: number;
    badReasons: Record<string, number>;
    powerCapSamples: number;
  }[];
}

export const DEFAULT_MAX_TEMP_C = 85;

/** Judges the samples: no HW/thermal slowdown or power brake, temperature under the limit, T.Limit headroom above the minimum. */
export function evaluateThermal(samples: readonly ThermalSample[], o: { maxTempC?: number; minTlimitC?: number } = {}): ThermalVerdict {
  const maxTempC = o.maxTempC ?? DEFAULT_MAX_TEMP_C;
  const minTlimitC = o.minTlimitC ?? 0;
  const gpus = [...new Set(samples.map((s) => s.gpu))].sort((a, b) => a - b);
  const problems: string[] = [];
  const metrics: Record<string, number> = { samples: samples.length };
  const perGpu: ThermalVerdict['perGpu'] = [];
  for (const g of gpus) {
    const mine = samples.filter((s) => s.gpu === g);
    const max = (f: (s: ThermalSample) => number | undefined) => Math.max(...mine.map(f).filter((x): x is number => x !== undefined));
    const min = (f: (s: ThermalSample) => number | undefined) => Math.min(...mine.map(f).filter((x): x is number => x !== undefined));
    const badReasons: Record<string, number> = {};
    let powerCapSamples = 0;
    for (const s of mine) {
      if (!s.reasons) continue;
      const d = decodeThrottle(s.reasons);
      if (d.names.includes('sw_power_cap')) powerCapSamples++;
      for (const b of d.bad) badReasons[b] = (badReasons[b] ?? 0) + 1;
    }
    const maxTempC_ = max((s) => s.tempC);
    const maxPowerW = max((s) => s.powerW);
    const minTl = min((s) => s.tlimitC);
    const row = {
      gpu: g,
      samples: mine.length,
      badReasons,
      powerCapSamples,
      ...(Number.isFinite(maxTempC_) ? { maxTempC: maxTempC_ } : {}),
      ...(Number.isFinite(maxPowerW) ? { maxPowerW } : {}),
      ...(Number.isFinite(minTl) ? { minTlimitC: minTl } : {}),
    };
    perGpu.push(row);
    if (row.maxTempC !== undefined) metrics[`gpu${g}_max_temp_c`] = row.maxTempC;
    if (row.maxPowerW !== undefined) metrics[`gpu${g}_max_power_w`] = row.maxPowerW;
    if (row.minTlimitC !== undefined) metrics[`gpu${g}_min_tlimit_c`] = row.minTlimitC;
    metrics[`gpu${g}_power_cap_samples`] = powerCapSamples;
    for (const [name, count] of Object.entries(badReasons)) problems.push(`GPU ${g}: ${name} active in ${count} of ${mine.length} samples`);
    if (row.maxTempC !== undefined && row.maxTempC >= maxTempC) problems.push(`GPU ${g}: ${row.maxTempC} °C reached the limit of ${maxTempC} °C`);
    if (row.minTlimitC !== undefined && row.minTlimitC <= minTlimitC)
      problems.push(`GPU ${g}: only ${row.minTlimitC} °C of headroom before T.Limit (minimum ${minTlimitC + 1} °C)`);
  }
  return {
    ok: problems.length === 0,
    problems,
    metrics,
    thresholds: {
      max_temp_c: maxTempC,
      min_tlimit_headroom_c: minTlimitC + 1,
      forbidden_reasons: THROTTLE_BITS.filter((b) => b.bad)
        .map((b) => b.name)
        .join(','),
    },
    perGpu,
  };
}

/** Picks the field list this driver accepts (one query of each); undefined when nvidia-smi answers neither. */
export async function samplerFields(exec: CheckExec, o: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<readonly string[] | undefined> {
  for (const fields of [SAMPLER_FIELDS, SAMPLER_FIELDS_OLD]) {
    const r = await exec('nvidia-smi', [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'], { ...o, timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.trim()) return fields;
  }
  return undefined;
}

export interface Sampler {
  /** Stops sampling; resolves with every sample and the raw output. */
  stop(): Promise<{ samples: ThermalSample[]; raw: string; problem?: string }>;
}

/** Starts `nvidia-smi … -lms <interval>` in the background. */
export function startSampler(fields: readonly string[], o: { intervalMs?: number; env?: NodeJS.ProcessEnv; command?: string; args?: string[] } = {}): Sampler {
  const args = o.args ?? [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(o.intervalMs ?? 500)];
  const child = spawn(o.command ?? 'nvidia-smi', args, { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  let err = '';
  let spawnError: string | undefined;
  child.stdout.on('data', (d: Buffer) => (raw += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.on('error', (e) => (spawnError = e.message));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      signalChild(child, 'SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3_000))]);
      signalChild(child, 'SIGKILL');
      const samples = raw
        .split('\n')
        .map((l) => parseSampleLine(l, fields))
        .filter((s): s is ThermalSample => s !== undefined);
      const problem = spawnError ?? (samples.length === 0 ? `no samples from nvidia-smi${err.trim() ? `: ${err.trim().split('\n')[0]}` : ''}` : undefined);
      return { samples, raw, ...(problem ? { problem } : {}) };
    },
  };
}
