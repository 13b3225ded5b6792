import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { INDEX } from '../bundle/layout.js';
import { readBaseline } from '../checks/baseline.js';
import type { Check, SmokeOptions, SmokeState } from '../checks/check.js';
import { expectationsFromArtifacts, modelsFromArtifacts } from '../checks/models.js';
import { detectNetwork } from '../checks/netns.js';
import { checks as allChecks } from '../checks/registry.js';
import type { SmokeReport } from '../checks/report.js';
import { runChecks, selectChecks } from '../checks/runner.js';
import { repeatForBaseline } from '../checks/baseline-run.js';
import { runProcess } from '../checks/proc.js';
import { exitCodeFor } from '../checks/report.js';
import type { Locked } from '../sources/source.js';
import { UsageError, localWriteError } from '../util/errors.js';
import { besideBundle, insideBundleWarning } from '../util/beside.js';
import { withTempDir } from '../util/fs.js';
import { TOOL } from '../version.js';
import { OFFLINE_ENV, type SmokeCommandOptions, type SmokeRun } from './options.js';
import { writeResults } from './results.js';
import { runSampled } from './sampled.js';

export { reexecInNetns } from '../checks/netns.js';
export { OFFLINE_ENV, type SmokeCommandOptions, type SmokeRun } from './options.js';

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
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${bundle}: cannot read ${INDEX}: ${(err as Error).message}`,
      subject: bundle,
      hint: 'give the bundle folder (the one holding bundle.json), or leave --bundle out to test the GPUs only',
    });
  }
  if (!Array.isArray(index.artifacts)) throw new UsageError({ code: 'NOT_A_BUNDLE', message: `${file} has no artifacts list`, subject: bundle });
  return { path: p, index };
}

/**
 * Runs the smoke checks on this box and writes the results folder. Failed checks are results: the returned
 * exitCode is 1 when any check failed or errored. Throws only for bad input (unreadable bundle or baseline)
 * or an unwritable results folder.
 */
export async function runSmoke(o: SmokeCommandOptions): Promise<SmokeRun> {
  const outDir = resolve(o.out ?? besideBundle('smoke-results'));
  for (const [path, what] of [
    [o.out, 'the results folder'],
    [o.saveBaseline, 'the baseline'],
  ] as const) {
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
  const baseline = o.baseline
    ? await readBaseline(o.baseline).catch((err: unknown) => {
        throw new UsageError({ code: 'BAD_FLAG', message: `--baseline ${o.baseline}: ${(err as Error).message}`, subject: o.baseline });
      })
    : undefined;
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

  const results = await withTempDir('vault-smoke', (workDir) => runSampled(selected, o, { env, options, state, workDir, outDir, rawDir, log }));
  // --save-baseline measures the metric checks again (no sampler), so each metric's spread is known.
  const repeats =
    o.saveBaseline && exitCodeFor(results) === 0
      ? await repeatForBaseline(
          results,
          (ids, k) =>
            withTempDir('vault-smoke', async (workDir) => {
              o.report({ type: 'phase', phase: `baseline repeat ${k}`, detail: ids.join(', ') });
              const raw = join(rawDir, `repeat-${k}`);
              await mkdir(raw, { recursive: true });
              const ctx = { exec: o.exec ?? runProcess, env, options, state, workDir, outDir, rawDir: raw, log, report: o.report };
              return runChecks(selectChecks(o.checks ?? allChecks, ids), { ctx, signal: o.signal, timeouts: options.timeouts });
            }),
          o.repeats,
        )
      : [];
  return writeResults(results, o, { outDir, started, network, bundleInfo, ...(baseline ? { baseline } : {}), logLines, repeats });
}
