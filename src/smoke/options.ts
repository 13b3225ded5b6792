import type { BaselineComparison } from '../checks/baseline.js';
import type { Check, CheckCtx, CheckResult, SmokeOptions } from '../checks/check.js';
import type { CheckExec } from '../checks/proc.js';
import type { SmokeReport } from '../checks/report.js';
import type { Sampler } from '../checks/thermal.js';
import type { Reporter } from '../util/events.js';

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
  /** The image-version stamp put into results.json (default /etc/vault-ai/image-version.json). */
  imageVersion?: string;
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
