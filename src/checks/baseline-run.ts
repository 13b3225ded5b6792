import { type BaselineComparison, SAVE_REPEATS, betterOf } from './baseline.js';
import type { CheckResult } from './check.js';

/**
 * The checks to measure again for --save-baseline: those that passed with a metric that has a direction
 * (their needs are added by the runner). Empty when there is nothing to repeat.
 */
export function repeatIds(results: readonly CheckResult[]): string[] {
  return results.filter((r) => r.status === 'pass' && Object.keys(r.metrics ?? {}).some((k) => betterOf(k) !== undefined)).map((r) => r.id);
}

/**
 * The repeats --save-baseline runs after the first run (SAVE_REPEATS in all, `repeats` to choose), so each
 * metric's spread is known: `run` measures the given checks once more (the k-th repeat, 2-based).
 */
export async function repeatForBaseline(
  first: readonly CheckResult[],
  run: (ids: string[], k: number) => Promise<CheckResult[]>,
  repeats = SAVE_REPEATS,
): Promise<CheckResult[][]> {
  const ids = repeatIds(first);
  const out: CheckResult[][] = [];
  if (ids.length === 0) return out;
  for (let k = 2; k <= repeats; k++) out.push(await run(ids, k));
  return out;
}

/** baseline.compare as a check result: fails on a regression of a gated metric; noisy ones are information. */
export function baselineResult(c: BaselineComparison, file: string): CheckResult {
  const base = { id: 'baseline.compare', title: `Metrics against the baseline ${file}`, durationMs: 0, started: new Date().toISOString() };
  const thresholds = { tolerance: c.tolerance, file };
  if (!c.comparable) return { ...base, status: 'skip', reason: `baseline not compared: its key differs (${c.keyDiffs.join('; ')})`, thresholds };
  const metrics = Object.fromEntries(c.metrics.filter((m) => m.ratio !== undefined).map((m) => [`${m.metric}_ratio`, m.ratio!]));
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  const detail = c.metrics
    .map(
      (m) =>
        `${m.status.padEnd(9)} ${m.metric}: ${m.current ?? '—'} vs ${m.baseline} (${m.better} is better${m.ratio !== undefined ? `, ratio ${m.ratio}` : ''}, tolerance ${pct(m.tolerance)}${m.gated ? '' : ', not gated: too noisy'})`,
    )
    .join('\n');
  if (c.regressions.length) {
    return {
      ...base,
      status: 'fail',
      reason: c.regressions.map((m) => `${m.metric} ${m.current} vs ${m.baseline} (×${m.ratio}, tolerance ${pct(m.tolerance)})`).join('; '),
      metrics,
      thresholds,
      detail,
    };
  }
  const measured = c.metrics.filter((m) => m.status !== 'missing');
  const gated = measured.filter((m) => m.gated).length;
  const missing = c.metrics.length - measured.length;
  const noisy = measured.filter((m) => m.status === 'noisy').map((m) => `${m.metric} ×${m.ratio}`);
  const info = measured.length - gated;
  const reason = [
    `${gated} metrics within their tolerance of the baseline (${pct(c.tolerance)} or their measured spread)`,
    ...(info ? [`${info} reported only, too noisy to gate${noisy.length ? ` (${noisy.join(', ')})` : ''}`] : []),
    ...(missing ? [`${missing} not measured in this run`] : []),
  ].join('; ');
  return { ...base, status: 'pass', reason, metrics, thresholds, detail };
}
