/**
 * One smoke test of a box (a Check) and what it gives back (a CheckResult). A failed check is a result,
 * never an exception: `run` returns status 'fail' with a reason. The runner (runner.ts) turns anything a
 * check throws into status 'error', and a check that outlives its timeout into 'error' too.
 */
import type { Reporter } from '../util/events.js';
import type { ModelRef } from './models.js';
import type { NvsmiLog } from './nvsmi.js';
import type { CheckExec } from './proc.js';
import type { ThermalSample } from './thermal.js';
import type { XidSnapshot } from './xid.js';

export type CheckStatus = 'pass' | 'fail' | 'skip' | 'error';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** Why it failed, was skipped or could not run (always set for those); a note on a pass. */
  reason?: string;
  /** Measured numbers. Names end in their unit: `_tflops`, `_gbps`, `_tok_s` (higher is better), `_ms`, `_sec`. */
  metrics?: Record<string, number>;
  /** The limits the metrics were judged against, as numbers or words. */
  thresholds?: Record<string, string | number>;
  durationMs: number;
  /** Versions and facts this check learnt (driver, CUDA, torch…); merged into the run's box facts. */
  versions?: Record<string, string>;
  /** Free text for people: per-GPU lines, a log tail. */
  detail?: string;
  title?: string;
  /** ISO time the check started. */
  started?: string;
}

/** What the check returns; the runner fills id, duration, title and start time. */
export type CheckOutcome = Omit<CheckResult, 'id' | 'durationMs' | 'title' | 'started'> & Partial<Pick<CheckResult, 'id' | 'durationMs'>>;

export interface Check {
  /** Stable id, `area.name`: `gpu.inventory`, `inference.vllm`. */
  readonly id: string;
  readonly title: string;
  /** Checks that must have passed first; otherwise this one is skipped with reason "needs <id>". */
  readonly needs?: readonly string[];
  /** Default timeout (ms); `options.timeouts[id]` overrides it. */
  readonly timeoutMs?: number;
  /** Puts the GPUs under load: the thermal/power sampler runs while such checks do. */
  readonly load?: boolean;
  /** Called once before any check runs (e.g. to snapshot the kernel log); must not throw. */
  before?(ctx: CheckCtx): Promise<void>;
  run(ctx: CheckCtx): Promise<CheckOutcome>;
}

/** Expectations and knobs of a smoke run (from the command line and the bundle). */
export interface SmokeOptions {
  expect?: { count?: number; model?: string; driverBranch?: string };
  /** Python to run the probes with (default: the bundle venv's when it imports torch, else python3). */
  python?: string;
  /** Models to load and run (default: every HF model of the bundle). */
  models?: ModelRef[];
  matmul?: { n?: number; seconds?: number; minRatio?: number; minTflops?: number; spread?: number };
  membw?: { gib?: number; minRatio?: number; minGbps?: number };
  h2d?: { gib?: number; minGbps?: number };
  nccl?: { sizesGiB?: number[]; minBusbwGbps?: number };
  inference?: { tokens?: number; model?: string; minTokS?: number };
  vllm?: { model?: string; serve?: boolean; timeoutSec?: number; gpuMemoryUtilization?: number };
  thermal?: { intervalMs?: number; maxTempC?: number; minTlimitC?: number };
  /** Per-check timeouts in ms, by check id. */
  timeouts?: Record<string, number>;
}

/** What checks learn and hand on to later checks within one run. */
export interface SmokeState {
  /** `nvidia-smi -q -x` as read by gpu.inventory. */
  nvsmi?: NvsmiLog;
  /** The python chosen for the probes, and why. */
  python?: { path: string; why: string };
  /** Models of the bundle (or options), for models.load and the inference checks. */
  models: ModelRef[];
  /** Samples of the thermal/power sampler, once it has stopped. */
  thermal?: ThermalSample[];
  /** Why the sampler could not run, if it could not. */
  thermalProblem?: string;
  /** When each load check ran (epoch ms), to mark on the thermal plot. */
  phases?: { id: string; start: number; end: number }[];
  /** Kernel-log Xid lines seen before the first check ran. */
  xidBefore?: XidSnapshot;
}

export interface CheckCtx {
  /** Runs a program without a shell; kills it (its whole process group) on `signal`. */
  exec: CheckExec;
  /** Environment for every tool and probe: the box's, plus the offline switches. */
  env: NodeJS.ProcessEnv;
  options: SmokeOptions;
  state: SmokeState;
  /** Scratch folder for this run (probe scripts, logs); removed afterwards. */
  workDir: string;
  /** The results folder; raw tool outputs go to `rawDir` inside it. */
  outDir: string;
  rawDir: string;
  /** Aborted when the check times out or the run is interrupted. */
  signal: AbortSignal;
  /** Appends a line to the run log (smoke.log). */
  log(line: string): void;
  report: Reporter;
}

/** Shorthands for checks. */
export const pass = (o: Omit<CheckOutcome, 'status'> = {}): CheckOutcome => ({ status: 'pass', ...o });
export const fail = (reason: string, o: Omit<CheckOutcome, 'status' | 'reason'> = {}): CheckOutcome => ({ status: 'fail', reason, ...o });
export const skip = (reason: string, o: Omit<CheckOutcome, 'status' | 'reason'> = {}): CheckOutcome => ({ status: 'skip', reason, ...o });

/** Rounds for reports: 3 significant decimals at most. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
