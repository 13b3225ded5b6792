/**
 * Baselines: the metrics of a good run, keyed by what they depend on (GPU model and count, driver, CUDA,
 * torch, vLLM). A later run compares each metric by ratio, in the direction that is better for it, and flags
 * regressions beyond a tolerance. Different keys are not compared: a new driver needs a new baseline.
 */
import { readFile } from 'node:fs/promises';
import type { CheckResult } from './check.js';

export const BASELINE_SCHEMA = 'vault-bundle/smoke-baseline/v1';
export const DEFAULT_TOLERANCE = 0.1;

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
  /** `<check id>/<metric>` → value and direction. */
  metrics: Record<string, { value: number; better: Better }>;
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

/** Metrics of passed checks that have a direction. */
export function makeBaseline(results: readonly CheckResult[], versions: Record<string, string>, created = new Date().toISOString()): BaselineFile {
  const metrics: BaselineFile['metrics'] = {};
  for (const r of results) {
    if (r.status !== 'pass') continue;
    for (const [k, value] of Object.entries(r.metrics ?? {})) {
      const better = betterOf(k);
      if (better && Number.isFinite(value)) metrics[`${r.id}/${k}`] = { value, better };
    }
  }
  return { schema: BASELINE_SCHEMA, created, key: baselineKey(versions), metrics };
}

export function serializeBaseline(b: BaselineFile): string {
  const sorted = Object.fromEntries(Object.entries(b.metrics).sort(([a], [c]) => (a < c ? -1 : 1)));
  return `${JSON.stringify({ ...b, metrics: sorted }, null, 2)}\n`;
}

export async function readBaseline(path: string): Promise<BaselineFile> {
  const b = JSON.parse(await readFile(path, 'utf8')) as BaselineFile;
  if (b?.schema !== BASELINE_SCHEMA || typeof b.metrics !== 'object' || typeof b.key !== 'object') throw new Error(`${path} is not a vault-bundle smoke baseline (schema ${BASELINE_SCHEMA})`);
  return b;
}

export interface MetricComparison {
  metric: string;
  better: Better;
  baseline: number;
  current?: number;
  /** current / baseline. */
  ratio?: number;
  status: 'ok' | 'improved' | 'regressed' | 'missing';
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
 * lower-is-better ones when current > (1 + tolerance) × baseline. A metric missing from the run is reported,
 * not a regression (its check may have been left out with --only). Different keys: nothing is compared.
 */
export function compareBaseline(base: BaselineFile, current: BaselineFile, tolerance = DEFAULT_TOLERANCE): BaselineComparison {
  const keyDiffs = (Object.keys(base.key) as (keyof BaselineKey)[])
    .filter((k) => base.key[k] !== current.key[k])
    .map((k) => `${k}: ${base.key[k]} → ${current.key[k]}`);
  const newMetrics = Object.keys(current.metrics).filter((m) => !(m in base.metrics)).sort();
  if (keyDiffs.length) return { comparable: false, keyDiffs, tolerance, metrics: [], regressions: [], newMetrics };
  const metrics: MetricComparison[] = Object.entries(base.metrics)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([metric, b]) => {
      const cur = current.metrics[metric]?.value;
      if (cur === undefined) return { metric, better: b.better, baseline: b.value, status: 'missing' };
      const ratio = b.value === 0 ? (cur === 0 ? 1 : Infinity) : cur / b.value;
      const worse = b.better === 'higher' ? ratio < 1 - tolerance : ratio > 1 + tolerance;
      const better = b.better === 'higher' ? ratio > 1 + tolerance : ratio < 1 - tolerance;
      return { metric, better: b.better, baseline: b.value, current: cur, ratio: Math.round(ratio * 1000) / 1000, status: worse ? 'regressed' : better ? 'improved' : 'ok' };
    });
  return { comparable: true, keyDiffs, tolerance, metrics, regressions: metrics.filter((m) => m.status === 'regressed'), newMetrics };
}
