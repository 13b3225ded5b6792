import { DEFAULT_IMAGE_VERSION, defaultImageVersion, readImageVersion } from '../state/image-version.js';
import { defaultStateDir } from '../state/journal.js';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join, resolve } from 'node:path';
import { type BaselineComparison, type BaselineFile, DEFAULT_TOLERANCE, compareBaseline, makeBaseline, serializeBaseline } from '../checks/baseline.js';
import { baselineResult } from '../checks/baseline-run.js';
import type { CheckResult } from '../checks/check.js';
import type { NetworkFacts } from '../checks/netns.js';
import { type SmokeReport, RESULTS_SCHEMA, exitCodeFor, humanSummary, summarize, toJunit } from '../checks/report.js';
import { localWriteError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { TOOL } from '../version.js';
import { OFFLINE_ENV, type SmokeCommandOptions, type SmokeRun } from './options.js';

/** What the run found before the checks, for the results. */
export interface RunFacts {
  outDir: string;
  started: Date;
  network: NetworkFacts;
  bundleInfo: SmokeReport['bundle'];
  baseline?: BaselineFile;
  logLines: string[];
  /** --save-baseline's extra measurements of the metric checks (each metric's spread comes from them). */
  repeats?: CheckResult[][];
}

/**
 * Compares with the baseline (a result of its own), then writes the results folder: results.json, junit.xml,
 * summary.txt, smoke.log (thermal.csv/svg are gpu.thermal's), and saves a baseline from a run without failures.
 */
export async function writeResults(results: CheckResult[], o: SmokeCommandOptions, f: RunFacts): Promise<SmokeRun> {
  const { outDir, started, network, bundleInfo, baseline, logLines } = f;
  const versions: Record<string, string> = {};
  for (const r of results) Object.assign(versions, r.versions ?? {});
  let comparison: BaselineComparison | undefined;
  const current = makeBaseline([results, ...(f.repeats ?? [])], versions);
  if (baseline && o.baseline) {
    comparison = compareBaseline(baseline, current, o.tolerance ?? DEFAULT_TOLERANCE);
    results.push(baselineResult(comparison, o.baseline));
  }
  const finished = new Date();
  const box: Record<string, string> = { hostname: hostname(), kernel: release(), ...((await osName()) ? { os: (await osName())! } : {}), ...versions };
  const summary = summarize(results);
  const imageVersion = o.imageVersion
    ? await readImageVersion(o.imageVersion)
    : ((await readImageVersion(DEFAULT_IMAGE_VERSION)) ?? (await readImageVersion(defaultImageVersion(defaultStateDir()))));
  const report: SmokeReport = {
    schema: RESULTS_SCHEMA,
    tool: { ...TOOL },
    started: started.toISOString(),
    finished: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    box,
    network,
    env: { ...OFFLINE_ENV },
    ...(bundleInfo ? { bundle: bundleInfo } : {}),
    ...(imageVersion ? { imageVersion } : {}),
    summary,
    ok: exitCodeFor(results) === 0,
    checks: results,
    ...(comparison && o.baseline ? { baseline: { ...comparison, file: o.baseline } } : {}),
  };
  const text = humanSummary(report);
  const files = ['results.json', 'junit.xml', 'summary.txt', 'smoke.log'];
  await writeFileAtomic(join(outDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(outDir, 'junit.xml'), toJunit(report));
  await writeFileAtomic(join(outDir, 'summary.txt'), text);
  await appendFile(join(outDir, 'smoke.log'), `${logLines.join('\n')}\n`).catch((err: unknown) => {
    throw localWriteError(err, join(outDir, 'smoke.log'));
  });
  for (const f of ['thermal.csv', 'thermal.svg']) if (await stat(join(outDir, f)).catch(() => undefined)) files.push(f);
  let savedBaseline: string | undefined;
  if (o.saveBaseline) {
    if (report.ok) {
      await writeFileAtomic(o.saveBaseline, serializeBaseline(current));
      savedBaseline = resolve(o.saveBaseline);
    } else o.report({ type: 'warn', message: `not saving a baseline from a run with failures (${o.saveBaseline})` });
  }
  return {
    outDir,
    report,
    results,
    ok: report.ok,
    exitCode: exitCodeFor(results),
    summary: text,
    files,
    ...(comparison ? { baseline: comparison } : {}),
    ...(savedBaseline ? { savedBaseline } : {}),
  };
}

async function osName(): Promise<string | undefined> {
  const t = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(t)?.[1];
}
