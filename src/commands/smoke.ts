import { appendFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname, release } from 'node:os';
import { join, resolve } from 'node:path';
import { INDEX } from '../bundle/layout.js';
import { type BaselineComparison, DEFAULT_TOLERANCE, compareBaseline, makeBaseline, readBaseline, serializeBaseline } from '../checks/baseline.js';
import { baselineResult, repeatForBaseline } from '../checks/baseline-run.js';
import type { Check, CheckCtx, CheckResult, SmokeOptions, SmokeState } from '../checks/check.js';
import { expectationsFromArtifacts, modelsFromArtifacts } from '../checks/models.js';
import { detectNetwork } from '../checks/netns.js';
import { type CheckExec, runProcess } from '../checks/proc.js';
import { checks as allChecks } from '../checks/registry.js';
import { type SmokeReport, RESULTS_SCHEMA, exitCodeFor, humanSummary, summarize, toJunit } from '../checks/report.js';
import { runChecks, selectChecks } from '../checks/runner.js';
import { type Sampler, samplerFields, startSampler } from '../checks/thermal.js';
import type { Locked } from '../sources/source.js';
import type { Reporter } from '../util/events.js';
import { UsageError, localWriteError } from '../util/errors.js';
import { besideBundle, insideBundleWarning } from '../util/beside.js';
import { withTempDir, writeFileAtomic } from '../util/fs.js';
import { TOOL } from '../version.js';

export { reexecInNetns } from '../checks/netns.js';

/** Set for every probe and tool: nothing may reach the network, nothing may report usage. */
export const OFFLINE_ENV: Readonly<Record<string, string>> = {
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  HF_DATASETS_OFFLINE: '1',
  HF_HUB_DISABLE_TELEMETRY: '1',
  VLLM_NO_USAGE_STATS: '1',
  DO_NOT_TRACK: '1',
  PYTHONUNBUFFERED: '1',
};

export interface SmokeCommandOptions {
  /** Bundle folder (or its bundle.json): models to load, the driver branch to expect. */
  bundle?: string;
  /**
   * Results folder: results.json, junit.xml, summary.txt, smoke.log, thermal.csv/svg, raw/. Default:
   * smoke-results here, or beside the bundle folder when run from inside one (verify would refuse it there).
   */
  out?: string;
  /** Check ids or areas (`gpu`, `inference.vllm`); their needs are added. */
  only?: string[];
  options?: SmokeOptions;
  saveBaseline?: string;
  baseline?: string;
  /** Regression tolerance for --baseline (0.1 = 10 %): the floor; a noisy metric gets more (baseline.ts). */
  tolerance?: number;
  /** How many times --save-baseline measures each metric (default SAVE_REPEATS, 3). */
  repeats?: number;
  exec?: CheckExec;
  report: Reporter;
  signal?: AbortSignal;
  /** Tests: other checks, a fake sampler (or none), another environment. */
  checks?: readonly Check[];
  sampler?: ((ctx: CheckCtx) => Promise<Sampler | string>) | false;
  env?: NodeJS.ProcessEnv;
}

export interface SmokeRun {
  outDir: string;
  report: SmokeReport;
  results: CheckResult[];
  ok: boolean;
  /** 0 when nothing failed or errored, else 1. */
  exitCode: number;
  summary: string;
  files: string[];
  baseline?: BaselineComparison;
  savedBaseline?: string;
}

interface IndexLike {
  name?: string;
  version?: string;
  artifacts?: Locked[];
}

async function readIndex(bundle: string): Promise<{ path: string; index: IndexLike }> {
  const p = resolve(bundle);
  const file = (await stat(p).catch(() => undefined))?.isDirectory() ? join(p, INDEX) : p;
  let index: IndexLike;
  try {
    index = JSON.parse(await readFile(file, 'utf8')) as IndexLike;
  } catch (err) {
    throw new UsageError({ code: 'NOT_A_BUNDLE', message: `${bundle}: cannot read ${INDEX}: ${(err as Error).message}`, subject: bundle, hint: 'give the bundle folder (the one holding bundle.json), or leave --bundle out to test the GPUs only' });
  }
  if (!Array.isArray(index.artifacts)) throw new UsageError({ code: 'NOT_A_BUNDLE', message: `${file} has no artifacts list`, subject: bundle });
  return { path: p, index };
}

async function osName(): Promise<string | undefined> {
  const t = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(t)?.[1];
}

/**
 * Runs the smoke checks on this box and writes the results folder. Failed checks are results: the returned
 * exitCode is 1 when any check failed or errored. Throws only for bad input (unreadable bundle or baseline)
 * or an unwritable results folder.
 */
export async function smokeCommand(o: SmokeCommandOptions): Promise<SmokeRun> {
  const outDir = resolve(o.out ?? besideBundle('smoke-results'));
  for (const [path, what] of [[o.out, 'the results folder'], [o.saveBaseline, 'the baseline']] as const) {
    const warning = path ? insideBundleWarning(path, what) : undefined;
    if (warning) o.report({ type: 'warn', message: warning });
  }
  const rawDir = join(outDir, 'raw');
  try {
    await mkdir(rawDir, { recursive: true });
  } catch (err) {
    throw localWriteError(err, outDir);
  }
  const baseEnv = o.env ?? process.env;
  const options: SmokeOptions = { ...(o.options ?? {}) };
  let bundleInfo: SmokeReport['bundle'];
  const state: SmokeState = { models: options.models ?? [] };
  if (o.bundle) {
    const { path, index } = await readIndex(o.bundle);
    bundleInfo = { path, ...(index.name ? { name: index.name } : {}), ...(index.version ? { version: index.version } : {}) };
    if (!options.models) state.models = modelsFromArtifacts(index.artifacts ?? [], baseEnv);
    const exp = expectationsFromArtifacts(index.artifacts ?? []);
    options.expect = { ...exp, ...options.expect };
  }
  const baseline = o.baseline ? await readBaseline(o.baseline).catch((err: unknown) => {
    throw new UsageError({ code: 'BAD_FLAG', message: `--baseline ${o.baseline}: ${(err as Error).message}`, subject: o.baseline });
  }) : undefined;
  let selected: Check[];
  try {
    selected = selectChecks(o.checks ?? allChecks, o.only);
  } catch (err) {
    throw new UsageError({ code: 'BAD_FLAG', message: `--only: ${(err as Error).message}` });
  }
  const network = await detectNetwork({ env: baseEnv });
  const env = { ...baseEnv, ...OFFLINE_ENV };
  const logLines: string[] = [];
  const log = (line: string) => logLines.push(`[${new Date().toISOString()}] ${line}`);
  const started = new Date();
  log(`vault-bundle ${TOOL.version} smoke: ${selected.map((c) => c.id).join(', ')}`);
  log(`network: ${JSON.stringify(network)}`);

  const results = await withTempDir('vault-smoke', async (workDir) => {
    const ctx: Omit<CheckCtx, 'signal'> = { exec: o.exec ?? runProcess, env, options, state, workDir, outDir, rawDir, log, report: o.report };
    let sampler: Sampler | undefined;
    let samplerTried = false;
    let phaseStart = Date.now();
    const lastLoad = selected.map((c) => Boolean(c.load)).lastIndexOf(true);
    const stopSampler = async () => {
      if (!sampler) return;
      const s = sampler;
      sampler = undefined;
      const got = await s.stop();
      state.thermal = got.samples;
      if (got.problem) state.thermalProblem = got.problem;
      await writeFile(join(rawDir, 'thermal-raw.csv'), got.raw).catch(() => {});
      log(`sampler stopped: ${got.samples.length} samples${got.problem ? ` (${got.problem})` : ''}`);
    };
    try {
      return await runChecks(selected, {
        ctx,
        signal: o.signal,
        timeouts: options.timeouts,
        hooks: {
          before: async (check, _i, done) => {
            o.report({ type: 'phase', phase: `check ${check.id}`, detail: check.title });
            phaseStart = Date.now();
            const inventoryOk = done.some((r) => r.id === 'gpu.inventory' && r.status === 'pass');
            if (check.load && !samplerTried && inventoryOk && o.sampler !== false) {
              samplerTried = true;
              const s = await (o.sampler ?? defaultSampler)({ ...ctx, signal: o.signal ?? new AbortController().signal });
              if (typeof s === 'string') {
                state.thermal = undefined;
                state.thermalProblem = s;
                log(`sampler not started: ${s}`);
              } else {
                sampler = s;
                log('sampler started');
              }
            }
          },
          after: async (check, r, i) => {
            if (check.load && r.status !== 'skip') (state.phases ??= []).push({ id: check.id, start: phaseStart, end: Date.now() });
            o.report({ type: 'info', message: `${r.status.toUpperCase()} ${check.id}${r.reason ? `: ${r.reason}` : ''}` });
            if (i >= lastLoad) await stopSampler();
          },
        },
      });
    } finally {
      await stopSampler();
    }
  });

  const versions: Record<string, string> = {};
  for (const r of results) Object.assign(versions, r.versions ?? {});
  let comparison: BaselineComparison | undefined;
  // --save-baseline measures the metric checks again (no sampler), so each metric's spread is known.
  const repeats = o.saveBaseline && exitCodeFor(results) === 0
    ? await repeatForBaseline(results, (ids, k) => withTempDir('vault-smoke', async (workDir) => {
      o.report({ type: 'phase', phase: `baseline repeat ${k}`, detail: ids.join(', ') });
      const raw = join(rawDir, `repeat-${k}`);
      await mkdir(raw, { recursive: true });
      return runChecks(selectChecks(o.checks ?? allChecks, ids), { ctx: { exec: o.exec ?? runProcess, env, options, state, workDir, outDir, rawDir: raw, log, report: o.report }, signal: o.signal, timeouts: options.timeouts });
    }), o.repeats)
    : [];
  const current = makeBaseline([results, ...repeats], versions);
  if (baseline && o.baseline) {
    comparison = compareBaseline(baseline, current, o.tolerance ?? DEFAULT_TOLERANCE);
    results.push(baselineResult(comparison, o.baseline));
  }
  const finished = new Date();
  const box: Record<string, string> = { hostname: hostname(), kernel: release(), ...((await osName()) ? { os: (await osName())! } : {}), ...versions };
  const summary = summarize(results);
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
  return { outDir, report, results, ok: report.ok, exitCode: exitCodeFor(results), summary: text, files, ...(comparison ? { baseline: comparison } : {}), ...(savedBaseline ? { savedBaseline } : {}) };
}

/** The nvidia-smi sampler with the field names this driver accepts, or why it cannot run. */
async function defaultSampler(ctx: CheckCtx): Promise<Sampler | string> {
  const fields = await samplerFields(ctx.exec, { env: ctx.env, signal: ctx.signal });
  if (!fields) return 'nvidia-smi accepts neither the clocks_event_reasons nor the clocks_throttle_reasons query';
  ctx.log(`sampler fields: ${fields.join(',')}`);
  return startSampler(fields, { intervalMs: ctx.options.thermal?.intervalMs ?? 500, env: ctx.env });
}
