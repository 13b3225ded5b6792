import type { CheckResult } from '../checks/check.js';
import type { BoxFiles, ImageStamp, StepName } from './load.js';

export const FLEET_SCHEMA = 'vault-bundle/fleet-summary/v1';

/** A box 15 % below its peers (or 15 % hotter) is an outlier. */
export const OUTLIER_FRACTION = 0.15;

/** The metrics compared across the fleet: the box's one number for each, and which way is better. */
export const FLEET_METRICS = [
  { id: 'matmul_tflops', title: 'matmul TFLOP/s (bf16, slowest GPU)', better: 'higher' },
  { id: 'membw_gbps', title: 'memory bandwidth GB/s (slowest GPU)', better: 'higher' },
  { id: 'nccl_busbw_gbps', title: 'NCCL all-reduce bus bandwidth GB/s', better: 'higher' },
  { id: 'max_temp_c', title: 'hottest GPU °C under load', better: 'lower' },
] as const;
export type FleetMetricId = (typeof FLEET_METRICS)[number]['id'];

export type BoxStatus = 'pass' | 'fail' | 'no-report';

export interface MetricCell {
  value: number;
  /** Median of the other boxes with this metric (absent when none has it). */
  peers?: number;
  /** value against peers, as a signed fraction (-0.2: 20 % below). */
  delta?: number;
  outlier: boolean;
}

export interface BoxSummary {
  host: string;
  status: BoxStatus;
  /** Why it failed or did not report; a note on a pass. */
  reason: string;
  /** The step that failed (copy, verify, install, smoke) or, for a smoke failure, the failing check ids. */
  failedStep?: StepName;
  failedChecks: string[];
  bundle?: { name?: string; version?: string; digest?: string };
  /** The box's image-version stamp: the version install stamped and the one before it. */
  image?: ImageStamp;
  versions: { driver?: string; cuda?: string; torch?: string; gpu_model?: string; gpu_count?: string };
  changed?: boolean;
  metrics: Partial<Record<FleetMetricId, MetricCell>>;
  outliers: FleetMetricId[];
  /** The smoke checks as the box reported them (for the JUnit file). */
  checks: Pick<CheckResult, 'id' | 'status' | 'reason' | 'durationMs'>[];
  files: { results: boolean; junit: boolean; thermal: boolean };
}

export interface FleetSummary {
  schema: typeof FLEET_SCHEMA;
  generated: string;
  source: string;
  counts: { boxes: number; pass: number; fail: number; noReport: number; outliers: number };
  medians: Partial<Record<FleetMetricId, number>>;
  /** The reasons boxes failed, with how many boxes each. */
  reasons: { reason: string; boxes: string[] }[];
  boxes: BoxSummary[];
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const metricsOf = (box: BoxFiles, id: string) => box.smoke?.checks.find((c) => c.id === id && c.status !== 'skip')?.metrics ?? {};
const matching = (m: Record<string, number>, re: RegExp) =>
  Object.entries(m)
    .filter(([k, v]) => re.test(k) && Number.isFinite(v))
    .map(([, v]) => v);

/** The box's one number per fleet metric: slowest GPU for matmul and bandwidth, best size for NCCL, hottest GPU. */
export function boxMetrics(box: BoxFiles): Partial<Record<FleetMetricId, number>> {
  const out: Partial<Record<FleetMetricId, number>> = {};
  const mm = metricsOf(box, 'gpu.matmul');
  const tflops = mm.min_tflops !== undefined ? [mm.min_tflops] : matching(mm, /^gpu\d+_tflops$/);
  if (tflops.length) out.matmul_tflops = Math.min(...tflops);
  const bw = matching(metricsOf(box, 'gpu.membw'), /^gpu\d+_gbps$/);
  if (bw.length) out.membw_gbps = Math.min(...bw);
  const nccl = matching(metricsOf(box, 'nccl.allreduce'), /^busbw_.*_gbps$/);
  if (nccl.length) out.nccl_busbw_gbps = Math.max(...nccl);
  const temps = matching(metricsOf(box, 'gpu.thermal'), /^gpu\d+_max_temp_c$/);
  if (temps.length) out.max_temp_c = Math.max(...temps);
  else if (box.thermalMaxC !== undefined) out.max_temp_c = box.thermalMaxC;
  return out;
}

function firstLine(s: string | undefined): string {
  return (
    (s ?? '')
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}

/** Pass, fail with the reason, or no report: the role's failed step first, then the smoke checks. */
function judge(box: BoxFiles): Pick<BoxSummary, 'status' | 'reason' | 'failedStep' | 'failedChecks'> {
  if (!box.rollout && !box.smoke) {
    const why = box.dir
      ? `nothing readable in its results folder${box.unreadable.length ? ` (${box.unreadable.join(', ')} damaged)` : ''}`
      : 'no results folder: the box was unreachable or the play never reached it';
    return { status: 'no-report', reason: `did not report: ${why}`, failedChecks: [] };
  }
  const step = box.rollout?.steps.find((s) => !s.ok);
  const bad = box.smoke?.checks.filter((c) => c.status === 'fail' || c.status === 'error') ?? [];
  if (step && !(step.step === 'smoke' && bad.length > 0)) {
    return {
      status: 'fail',
      reason: `${step.step} failed${step.rc !== undefined ? ` (exit ${step.rc})` : ''}: ${firstLine(step.message) || 'no message'}`,
      failedStep: step.step,
      failedChecks: [],
    };
  }
  if (bad.length > 0) {
    const reason = bad.map((c) => `${c.id}: ${firstLine(c.reason) || c.status}`).join('; ');
    return { status: 'fail', reason: `smoke failed: ${reason}`, failedStep: 'smoke', failedChecks: bad.map((c) => c.id) };
  }
  if (!box.smoke)
    return { status: 'fail', reason: 'no smoke results (results.json missing): smoke did not run or its results were not fetched', failedChecks: [] };
  const s = box.smoke.summary;
  return { status: 'pass', reason: `${s.pass} passed, ${s.skip} skipped`, failedChecks: [] };
}

function bundleOf(box: BoxFiles): BoxSummary['bundle'] {
  const r = box.rollout?.bundle;
  const name = r?.name ?? box.installed?.bundle.name ?? box.smoke?.bundle?.name;
  const version = r?.version ?? box.installed?.bundle.version ?? box.smoke?.bundle?.version;
  if (!name && !version && !r?.digest) return undefined;
  return { ...(name ? { name } : {}), ...(version ? { version } : {}), ...(r?.digest ? { digest: r.digest } : {}) };
}

/** Per box status and metrics, fleet medians, and outliers against each box's peers. */
export function summarizeFleet(boxes: readonly BoxFiles[], o: { source: string; generated?: string }): FleetSummary {
  const raw = boxes.map((b) => boxMetrics(b));
  const medians: FleetSummary['medians'] = {};
  for (const m of FLEET_METRICS) {
    const med = median(raw.map((r) => r[m.id]).filter((v): v is number => v !== undefined));
    if (med !== undefined) medians[m.id] = Math.round(med * 100) / 100;
  }
  const summaries = boxes.map((box, i): BoxSummary => {
    const metrics: BoxSummary['metrics'] = {};
    for (const m of FLEET_METRICS) {
      const value = raw[i]![m.id];
      if (value === undefined) continue;
      const peers = median(
        raw
          .filter((_, j) => j !== i)
          .map((r) => r[m.id])
          .filter((v): v is number => v !== undefined),
      );
      const delta = peers ? (value - peers) / peers : undefined;
      const outlier = delta !== undefined && (m.better === 'higher' ? delta <= -OUTLIER_FRACTION : delta >= OUTLIER_FRACTION);
      metrics[m.id] = { value, ...(peers !== undefined ? { peers } : {}), ...(delta !== undefined ? { delta: Math.round(delta * 1000) / 1000 } : {}), outlier };
    }
    const v = box.smoke?.box ?? {};
    const installStep = box.rollout?.steps.find((s) => s.step === 'install');
    const bundle = bundleOf(box);
    return {
      host: box.host,
      ...judge(box),
      ...(bundle ? { bundle } : {}),
      ...(box.imageVersion ? { image: box.imageVersion } : {}),
      versions: { driver: v.driver, cuda: v.cuda, torch: v.torch, gpu_model: v.gpu_model, gpu_count: v.gpu_count },
      ...(installStep?.changed !== undefined ? { changed: installStep.changed } : {}),
      metrics,
      outliers: FLEET_METRICS.filter((m) => metrics[m.id]?.outlier).map((m) => m.id),
      checks: (box.smoke?.checks ?? []).map((c) => ({ id: c.id, status: c.status, durationMs: c.durationMs, ...(c.reason ? { reason: c.reason } : {}) })),
      files: { results: Boolean(box.smoke), junit: box.hasJunit, thermal: box.thermalMaxC !== undefined },
    };
  });
  const reasons = new Map<string, string[]>();
  for (const b of summaries) if (b.status !== 'pass') reasons.set(b.reason, [...(reasons.get(b.reason) ?? []), b.host]);
  return {
    schema: FLEET_SCHEMA,
    generated: o.generated ?? new Date().toISOString(),
    source: o.source,
    counts: {
      boxes: summaries.length,
      pass: summaries.filter((b) => b.status === 'pass').length,
      fail: summaries.filter((b) => b.status === 'fail').length,
      noReport: summaries.filter((b) => b.status === 'no-report').length,
      outliers: summaries.filter((b) => b.outliers.length > 0).length,
    },
    medians,
    reasons: [...reasons].map(([reason, hosts]) => ({ reason, boxes: hosts })).sort((a, b) => b.boxes.length - a.boxes.length),
    boxes: summaries,
  };
}
