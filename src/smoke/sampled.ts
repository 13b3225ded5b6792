import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Check, CheckCtx, CheckResult, SmokeOptions, SmokeState } from '../checks/check.js';
import { runProcess } from '../checks/proc.js';
import { runChecks } from '../checks/runner.js';
import { type Sampler, samplerFields, startSampler } from '../checks/thermal.js';
import type { SmokeCommandOptions } from './options.js';

/** What the checks run with: the environment, the options, the state they share, where they write. */
export interface SampledRun {
  env: NodeJS.ProcessEnv;
  options: SmokeOptions;
  state: SmokeState;
  workDir: string;
  outDir: string;
  rawDir: string;
  log: (line: string) => void;
}

/**
 * Runs the selected checks in order. The thermal sampler starts before the first load check once the GPU
 * inventory passed, and stops after the last one: its samples and the load phases are in the state for
 * gpu.thermal. Each check's start and outcome are events (the CLI shows the running one; its table, the outcomes).
 */
export async function runSampled(selected: Check[], o: SmokeCommandOptions, r: SampledRun): Promise<CheckResult[]> {
  const { env, options, state, workDir, outDir, rawDir, log } = r;
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
        before: async (check, i, done) => {
          o.report({ type: 'check:start', id: check.id, title: check.title, index: i, total: selected.length });
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
          const { status, durationMs } = r;
          o.report({ type: 'check:done', id: check.id, status, ...(r.reason ? { reason: r.reason } : {}), durationMs, index: i, total: selected.length });
          if (i >= lastLoad) await stopSampler();
        },
      },
    });
  } finally {
    await stopSampler();
  }
}

/** The nvidia-smi sampler with the field names this driver accepts, or why it cannot run. */
async function defaultSampler(ctx: CheckCtx): Promise<Sampler | string> {
  const fields = await samplerFields(ctx.exec, { env: ctx.env, signal: ctx.signal });
  if (!fields) return 'nvidia-smi accepts neither the clocks_event_reasons nor the clocks_throttle_reasons query';
  ctx.log(`sampler fields: ${fields.join(',')}`);
  return startSampler(fields, { intervalMs: ctx.options.thermal?.intervalMs ?? 500, env: ctx.env });
}
