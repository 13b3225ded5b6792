/**
 * Baselines: the metrics of good runs, keyed by what they depend on (GPU model and count, driver, CUDA,
 * torch, vLLM). A later run compares each metric by ratio, in the direction that is better for it, and flags
 * regressions beyond a tolerance. Different keys are not compared: a new driver needs a new baseline.
 *
 * Noise: `--save-baseline` measures each metric several times (SAVE_REPEATS) and records the repeats, their
 * median (the value compared against) and their spread ((max - min) / median). A metric's tolerance is the
 * larger of its floor and SPREAD_FACTOR × its spread; it gates (a regression fails baseline.compare) only when
 * it is stable: its spread is at most half its floor. The rest is reported as information.
 * Floors: DEFAULT_TOLERANCE (10 %, or --tolerance) for hardware figures (TFLOP/s, GB/s, load times), which
 * repeat within 1-2 % on a real box (H200 matmul 790-803, membw 4250-4260; H100 782-790, 3025-3034);
 * NOISY_FLOOR (25 %) for token rates and timings (`_tok_s`, `_sec`, `_ms`): a tiny model at batch 1 is bound
 * by kernel launches and Python: its token rate swung 12 % between two runs on the same H100 with nothing
 * changed (issue #15) and 17 % on an H200 (413.7 vs 483.8, bench/results/2026-12-01-h200x2-smoke), and a
 * tiny model loads in 0.04 s, one 10 ms step from +25 %. Such a metric whose spread is unknown (a single
 * run, a v1 file) is information only, and a timing under 0.5 s never gates.
 */
import { readFile } from 'node:fs/promises';
import type { CheckResult } from './check.js';

export const BASELINE_SCHEMA = 'vault-bundle/smoke-baseline/v2';
/** Baselines written before repeats were recorded: still read (a single value per metric). */
export const BASELINE_SCHEMA_V1 = 'vault-bundle/smoke-baseline/v1';
export const DEFAULT_TOLERANCE = 0.1;
export const NOISY_FLOOR = 0.25;
export const SPREAD_FACTOR = 2;
/** How many times --save-baseline measures each metric (the first run and this many less one repeats). */
export const SAVE_REPEATS = 3;

export interface BaselineKey {
  gpuModel: string;
  gpuCount: string;
  driver: string;
  cuda: string;
  torch: string;
  vllm: string;
}

export type Better = 'higher' | 'lower';

export interface BaselineFile {
  schema: typeof BASELINE_SCHEMA;
  created: string;
  key: BaselineKey;
  /** `<check id>/<metric>` → value (the median of the repeats) and direction, and how it was measured. */
  metrics: Record<string, BaselineMetric>;
}

export interface BaselineMetric {
  value: number;
  better: Better;
  /** How many runs measured it (absent in v1 files: one). */
  repeats?: number;
  samples?: number[];
  median?: number;
  /** (max - min) / median of the samples; absent when measured once. */
  spread?: number;
}

/** Token rates and timings of small models: bound by Python and kernel launches, not by the hardware. */
const NOISY_KIND = /(_tok_s|_sec|_ms|_latency)$/;

/** The tolerance floor of a metric: token rates and timings are noisier than hardware throughput. */
export function floorFor(metric: string, tolerance = DEFAULT_TOLERANCE): number {
  return NOISY_KIND.test(metric) ? Math.max(tolerance, NOISY_FLOOR) : tolerance;
}

/** A timing too short to measure well (rounded to 10 ms, 0.04 s of a tiny model's load is one step from 0.05). */
function tooShort(metric: string, value: number): boolean {
  return (/_sec$/.test(metric) && value < 0.5) || (/(_ms|_latency)$/.test(metric) && value < 500);
}

/**
 * A metric's tolerance (≥ its floor and SPREAD_FACTOR × its measured spread) and whether it is stable enough to
 * gate: its spread is known and at most half its floor; with the spread unknown (one run, a v1 file) only the
 * hardware figures gate. A timing too short to measure well never gates.
 */
export function judgeOf(metric: string, m: BaselineMetric, tolerance = DEFAULT_TOLERANCE): { tolerance: number; gated: boolean } {
  const floor = floorFor(metric, tolerance);
  const known = m.spread !== undefined && (m.repeats ?? 1) >= 2;
  const short = tooShort(metric, m.value);
  if (!known) return { tolerance: floor, gated: !NOISY_KIND.test(metric) && !short };
  return { tolerance: Math.round(Math.max(floor, SPREAD_FACTOR * m.spread!) * 1000) / 1000, gated: !short && m.spread! <= floor / 2 };
}

/** Direction from the metric's unit suffix; undefined for facts that are not "better" either way (counts, °C, W). */
export function betterOf(metric: string): Better | undefined {
  if (/(_tflops|_gbps|_tok_s|_per_s)$/.test(metric)) return 'higher';
  if (/(_ms|_sec|_latency)$/.test(metric)) return 'lower';
  return undefined;
}

export function baselineKey(versions: Record<string, string>): BaselineKey {
  const v = (k: string) => versions[k] ?? 'none';
  return { gpuModel: v('gpu_model'), gpuCount: v('gpu_count'), driver: v('driver'), cuda: v('cuda'), torch: v('torch'), vllm: v('vllm') };
}

/**
 * Metrics of passed checks that have a direction, over one run or several (the first run and the repeats of
 * --save-baseline): each records its repeats, median and spread; a metric some run failed to measure keeps
 * the runs that did.
 */
export function makeBaseline(
  results: readonly CheckResult[] | readonly (readonly CheckResult[])[],
  versions: Record<string, string>,
  created = new Date().toISOString(),
): BaselineFile {
  const runs = (results.length > 0 && Array.isArray(results[0]) ? results : [results]) as readonly (readonly CheckResult[])[];
  const seen = new Map<string, { better: Better; samples: number[] }>();
  for (const run of runs) {
    for (const r of run) {
      if (r.status !== 'pass') continue;
      for (const [k, value] of Object.entries(r.metrics ?? {})) {
        const better = betterOf(k);
        if (!better || !Number.isFinite(value)) continue;
        const key = `${r.id}/${k}`;
        if (!seen.has(key)) seen.set(key, { better, samples: [] });
        seen.get(key)!.samples.push(value);
      }
    }
  }
  const metrics: BaselineFile['metrics'] = {};
  for (const [k, { better, samples }] of seen) metrics[k] = summarizeSamples(samples, better);
  return { schema: BASELINE_SCHEMA, created, key: baselineKey(versions), metrics };
}

function summarizeSamples(samples: number[], better: Better): BaselineMetric {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const r = (x: number) => Math.round(x * 10000) / 10000;
  if (samples.length === 1) return { value: median, better, repeats: 1 };
  const spread = median === 0 ? 0 : (sorted.at(-1)! - sorted[0]!) / Math.abs(median);
  return { value: median, better, repeats: samples.length, samples, median, spread: r(spread) };
}

export function serializeBaseline(b: BaselineFile): string {
  const sorted = Object.fromEntries(Object.entries(b.metrics).sort(([a], [c]) => (a < c ? -1 : 1)));
  return `${JSON.stringify({ ...b, metrics: sorted }, null, 2)}\n`;
}

export async function readBaseline(path: string): Promise<BaselineFile> {
  const b = JSON.parse(await readFile(path, 'utf8')) as Omit<BaselineFile, 'schema'> & { schema: string };
  if ((b?.schema !== BASELINE_SCHEMA && b?.schema !== BASELINE_SCHEMA_V1) || typeof b.metrics !== 'object' || typeof b.key !== 'object')
    throw new Error(`${path} is not a vault-bundle smoke baseline (schema ${BASELINE_SCHEMA})`);
  // A v1 file: one value per metric, spread unknown (judged by the floors).
  return { ...b, schema: BASELINE_SCHEMA };
}

export interface MetricComparison {
  metric: string;
  better: Better;
  baseline: number;
  current?: number;
  /** current / baseline. */
  ratio?: number;
  /** Allowed change for this metric (its floor, or more for a noisy one). */
  tolerance: number;
  /** False: too noisy to gate (its spread is more than half its floor, or a token rate of unknown spread): reported only. */
  gated: boolean;
  /** `noisy`: beyond its tolerance but not gated, so information, not a failure. */
  status: 'ok' | 'improved' | 'regressed' | 'noisy' | 'missing';
}

export interface BaselineComparison {
  comparable: boolean;
  /** Key fields that differ: "driver: 580.159.04 → 575.57.08". */
  keyDiffs: string[];
  tolerance: number;
  metrics: MetricComparison[];
  regressions: MetricComparison[];
  /** Metrics this run has and the baseline does not. */
  newMetrics: string[];
}

/**
 * Compares a run with a baseline. Higher-is-better metrics regress when current < (1 - tolerance) × baseline,
 * lower-is-better ones when current > (1 + tolerance) × baseline, each with its own tolerance (judgeOf:
 * `tolerance` is the floor); a metric too noisy to gate is `noisy` there, not `regressed`. A metric missing from the run is reported,
 * not a regression (its check may have been left out with --only). Different keys: nothing is compared.
 */
export function compareBaseline(base: BaselineFile, current: BaselineFile, tolerance = DEFAULT_TOLERANCE): BaselineComparison {
  const keyDiffs = (Object.keys(base.key) as (keyof BaselineKey)[])
    .filter((k) => base.key[k] !== current.key[k])
    .map((k) => `${k}: ${base.key[k]} → ${current.key[k]}`);
  const newMetrics = Object.keys(current.metrics)
    .filter((m) => !(m in base.metrics))
    .sort();
  if (keyDiffs.length) return { comparable: false, keyDiffs, tolerance, metrics: [], regressions: [], newMetrics };
  const metrics: MetricComparison[] = Object.entries(base.metrics)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([metric, b]) => {
      const { tolerance: tol, gated } = judgeOf(metric, b, tolerance);
      const cur = current.metrics[metric]?.value;
      if (cur === undefined) return { metric, better: b.better, baseline: b.value, tolerance: tol, gated, status: 'missing' };
      const ratio = b.value === 0 ? (cur === 0 ? 1 : Infinity) : cur / b.value;
      const worse = b.better === 'higher' ? ratio < 1 - tol : ratio > 1 + tol;
      const better = b.better === 'higher' ? ratio > 1 + tol : ratio < 1 - tol;
      const status = worse ? (gated ? 'regressed' : 'noisy') : better ? 'improved' : 'ok';
      return { metric, better: b.better, baseline: b.value, current: cur, ratio: Math.round(ratio * 1000) / 1000, tolerance: tol, gated, status };
    });
  return { comparable: true, keyDiffs, tolerance, metrics, regressions: metrics.filter((m) => m.status === 'regressed'), newMetrics };
}
