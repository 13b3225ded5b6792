import type { Check, CheckCtx, CheckOutcome, CheckResult, CheckStatus } from './check.js';

const STATUSES: ReadonlySet<CheckStatus> = new Set(['pass', 'fail', 'skip', 'error']);
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export interface RunnerHooks {
  /** Before a check runs (not called for a check skipped for its needs). */
  before?(check: Check, index: number, done: readonly CheckResult[]): Promise<void> | void;
  after?(check: Check, result: CheckResult, index: number): Promise<void> | void;
}

export interface RunnerOptions {
  /** Base context; each check gets it with its own `signal`. */
  ctx: Omit<CheckCtx, 'signal'>;
  /** The run's signal (Ctrl-C): aborts the check in flight and skips the rest. */
  signal?: AbortSignal;
  defaultTimeoutMs?: number;
  /** Per-check timeouts (ms) by id; beat the check's own `timeoutMs`. */
  timeouts?: Record<string, number>;
  hooks?: RunnerHooks;
}

/**
 * `only`: ids, or areas (`gpu` = every `gpu.*`). Whatever a chosen check needs is added, transitively, so
 * `--only gpu.matmul` still runs gpu.inventory and python.env first. Order stays the registry's.
 */
export function selectChecks(all: readonly Check[], only?: readonly string[]): Check[] {
  if (!only || only.length === 0) return [...all];
  const byId = new Map(all.map((c) => [c.id, c]));
  const unknown = only.filter((o) => !all.some((c) => c.id === o || c.id.startsWith(`${o}.`)));
  if (unknown.length) throw new Error(`unknown check ${unknown.join(', ')} (known: ${all.map((c) => c.id).join(', ')})`);
  const chosen = new Set<string>();
  const add = (id: string) => {
    if (chosen.has(id)) return;
    chosen.add(id);
    for (const n of byId.get(id)?.needs ?? []) add(n);
  };
  for (const c of all) if (only.some((o) => c.id === o || c.id.startsWith(`${o}.`))) add(c.id);
  return all.filter((c) => chosen.has(c.id));
}

/**
 * Runs checks in order and never throws for a check: a throw becomes status 'error' with its message, a check
 * past its timeout becomes 'error' ("timed out after N s") and its signal is aborted (which kills its
 * processes), a check whose `needs` did not all pass is skipped with reason "needs <id>".
 */
export async function runChecks(checks: readonly Check[], o: RunnerOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const byId = new Map<string, CheckResult>();
  const base = o.ctx;
  for (const c of checks) {
    if (!c.before) continue;
    try {
      await c.before({ ...base, signal: o.signal ?? new AbortController().signal });
    } catch (err) {
      base.log(`${c.id}: before() failed: ${message(err)}`);
    }
  }
  for (const [i, c] of checks.entries()) {
    const started = new Date().toISOString();
    const t0 = performance.now();
    const blocked = (c.needs ?? []).find((n) => byId.get(n)?.status !== 'pass');
    let r: CheckResult;
    if (o.signal?.aborted) {
      r = { id: c.id, title: c.title, status: 'skip', reason: 'interrupted', durationMs: 0, started };
    } else if (blocked !== undefined) {
      r = { id: c.id, title: c.title, status: 'skip', reason: `needs ${blocked}`, durationMs: 0, started };
    } else {
      await o.hooks?.before?.(c, i, results);
      const out = await runOne(c, o, base);
      r = normalize(c, out, started, Math.round(performance.now() - t0));
    }
    results.push(r);
    byId.set(c.id, r);
    base.log(`${r.status.toUpperCase()} ${c.id}${r.reason ? `: ${r.reason}` : ''} (${(r.durationMs / 1000).toFixed(1)} s)`);
    await o.hooks?.after?.(c, r, i);
  }
  return results;
}

async function runOne(c: Check, o: RunnerOptions, base: Omit<CheckCtx, 'signal'>): Promise<CheckOutcome> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(new Error('interrupted'));
  o.signal?.addEventListener('abort', onOuter, { once: true });
  const timeoutMs = o.timeouts?.[c.id] ?? c.timeoutMs ?? o.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      ac.abort(new Error('timeout'));
      resolve({ status: 'error', reason: `timed out after ${round1(timeoutMs / 1000)} s` });
    }, timeoutMs);
  });
  const interrupted = new Promise<CheckOutcome>((resolve) => {
    ac.signal.addEventListener(
      'abort',
      () => {
        if (o.signal?.aborted) resolve({ status: 'error', reason: 'interrupted' });
      },
      { once: true },
    );
  });
  const running = Promise.resolve()
    .then(() => c.run({ ...base, signal: ac.signal }))
    .catch((err: unknown): CheckOutcome => ({ status: 'error', reason: `${c.id} crashed: ${message(err)}` }));
  try {
    return await Promise.race([running, timeout, interrupted]);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onOuter);
  }
}

function normalize(c: Check, out: CheckOutcome, started: string, durationMs: number): CheckResult {
  const status: CheckStatus = out && STATUSES.has(out.status) ? out.status : 'error';
  const r: CheckResult = { ...(out ?? {}), id: c.id, title: c.title, status, durationMs, started };
  if (status !== out?.status) r.reason = `${c.id} returned no valid status (${JSON.stringify(out?.status)})`;
  if (status !== 'pass' && !r.reason) r.reason = `${c.id} gave no reason`;
  return r;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
