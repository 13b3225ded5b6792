import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckCtx, CheckOutcome } from './check.js';
import { type ProcResult, causeLine, tail } from './proc.js';

/** The bundle's virtual environment; used for the probes when its python imports torch. */
export const VENV_PYTHON = '/opt/vault-ai/venv/bin/python';

/**
 * The python for the probes: `options.python` when given; else the bundle venv's when it imports torch;
 * else `python3`. Decided once per run.
 */
export async function resolvePython(ctx: CheckCtx): Promise<{ path: string; why: string }> {
  if (ctx.state.python) return ctx.state.python;
  let chosen: { path: string; why: string };
  if (ctx.options.python) chosen = { path: ctx.options.python, why: 'given with --python' };
  else if (
    await access(VENV_PYTHON).then(
      () => true,
      () => false,
    )
  ) {
    const r = await ctx.exec(VENV_PYTHON, ['-c', 'import torch'], { env: ctx.env, signal: ctx.signal, timeoutMs: 120_000 });
    chosen =
      r.code === 0
        ? { path: VENV_PYTHON, why: 'the bundle venv imports torch' }
        : { path: 'python3', why: `${VENV_PYTHON} cannot import torch (${causeLine(r.stderr) || `exit ${r.code}`})` };
  } else chosen = { path: 'python3', why: `no ${VENV_PYTHON}` };
  ctx.state.python = chosen;
  return chosen;
}

export interface ProbeRun extends ProcResult {
  /** The one JSON object the probe printed (its last JSON line), if any. */
  json?: Record<string, unknown>;
  command: string;
}

/**
 * Writes a probe's source to the scratch folder and runs it with the chosen python (or through
 * `python -m torch.distributed.run …` when `torchrun` is given). The raw output is kept in rawDir/<name>.log.
 */
export async function runProbe(
  ctx: CheckCtx,
  name: string,
  source: string,
  args: readonly string[] = [],
  o: { env?: NodeJS.ProcessEnv; torchrun?: string[]; timeoutMs?: number } = {},
): Promise<ProbeRun> {
  const py = (await resolvePython(ctx)).path;
  const dir = join(ctx.workDir, 'probes');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.py`);
  await writeFile(file, source);
  const argv = o.torchrun ? ['-m', 'torch.distributed.run', ...o.torchrun, file, ...args] : [file, ...args];
  const command = [py, ...argv].join(' ');
  ctx.log(`$ ${command}`);
  const t0 = performance.now();
  const r = await ctx.exec(py, argv, { env: { ...ctx.env, ...o.env }, cwd: dir, signal: ctx.signal, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  ctx.log(`  exit ${r.code} after ${secs} s${r.timedOut ? ' (timed out)' : ''}${r.aborted ? ' (aborted)' : ''}`);
  const json = parseProbeJson(r.stdout);
  if (json) ctx.log(`  ${JSON.stringify(json)}`);
  else if (r.stderr) ctx.log(tail(r.stderr, 8).replace(/^/gm, '  | '));
  await mkdir(ctx.rawDir, { recursive: true });
  await writeFile(join(ctx.rawDir, `${name}.log`), `$ ${command}\n# exit ${r.code} after ${secs} s\n# stdout\n${r.stdout}\n# stderr\n${r.stderr}`).catch(
    () => {},
  );
  return { ...r, command, ...(json ? { json } : {}) };
}

/** The last line of stdout that is a JSON object: probes print exactly one, libraries may print around it. */
export function parseProbeJson(stdout: string): Record<string, unknown> | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(l);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON after all
    }
  }
  return undefined;
}

/**
 * When a probe did not give a usable result: its own `{"error": …}` is a failed check (the box could not do
 * the work); no JSON at all (a crash, a missing python, a timeout) means the check could not run: 'error'.
 */
export function probeProblem(r: ProbeRun, what: string): CheckOutcome | undefined {
  const detail = [r.command, tail(r.stderr, 20)].filter(Boolean).join('\n');
  if (r.timedOut) return { status: 'error', reason: `${what} timed out`, detail };
  if (r.json && typeof r.json.error === 'string')
    return {
      status: 'fail',
      reason: `${what}: ${r.json.error}`,
      detail: [detail, typeof r.json.trace === 'string' ? r.json.trace : ''].filter(Boolean).join('\n'),
    };
  if (!r.json) {
    const why = r.code === 127 ? `cannot run ${r.command.split(' ')[0]}` : causeLine(r.stderr) || (r.code === 0 ? 'it printed no JSON line' : `exit ${r.code}`);
    return { status: 'error', reason: `${what} gave no result: ${why}`, detail };
  }
  return undefined;
}

export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const arr = (v: unknown): Record<string, unknown>[] =>
  Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];
