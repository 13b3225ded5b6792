import { access, constants, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { type Check, type CheckCtx, fail, pass, round, skip } from './check.js';
import { parseNcclTests, peakBusbw, wrongElements } from './nccl-tests.js';
import { causeLine } from './proc.js';
import { ALLREDUCE_PY } from './py/probes.js';
import { arr, num, probeProblem, runProbe } from './probe.js';
import { referenceFor } from './reference.js';

const GiB = 2 ** 30;

/** Where nccl-tests may be: PATH, then the bundle's and the usual build folders. */
export async function findAllReducePerf(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/opt/vault-ai/bin', '/opt/nccl-tests/build', '/usr/local/bin'];
  for (const d of dirs) {
    const p = join(d, 'all_reduce_perf');
    if (
      await access(p, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  return undefined;
}

/**
 * nccl.allreduce: with ≥ 2 GPUs, torchrun all_reduce at 1 and 2 GiB: every element right, busbw at the largest
 * size ≥ `minBusbwGbps` (else 0.85 × the reference for this model and count). When nccl-tests' all_reduce_perf
 * is installed it runs too: exit 0, no #wrong, busbw at the largest size ≥ 0.9 × its reference.
 */
export const ncclAllreduce: Check = {
  id: 'nccl.allreduce',
  title: 'NCCL all_reduce bus bandwidth and correctness',
  needs: ['python.env'],
  load: true,
  timeoutMs: 420_000,
  async run(ctx) {
    const n = ctx.state.nvsmi?.gpus.length ?? 0;
    if (n < 2) return skip('needs 2 GPUs', { metrics: { gpus: n } });
    const model = ctx.state.nvsmi?.gpus[0]?.name;
    const ref = referenceFor(model);
    const sizes = (ctx.options.nccl?.sizesGiB ?? [1, 2]).map((g) => Math.round(g * GiB));
    const r = await runProbe(ctx, 'allreduce', ALLREDUCE_PY, ['--sizes', sizes.join(',')], {
      torchrun: ['--standalone', `--nproc-per-node=${n}`],
      env: { NCCL_DEBUG: ctx.env.NCCL_DEBUG ?? 'WARN', OMP_NUM_THREADS: ctx.env.OMP_NUM_THREADS ?? '1' },
    });
    const problem = probeProblem(r, 'torchrun all_reduce');
    if (problem) return problem;
    // A launch that put fewer processes on the GPUs than there are GPUs would report a smaller world's bandwidth.
    const world = num(r.json!.world);
    if (world !== n)
      return fail(`torchrun all_reduce had ${world ?? 'an unknown number of'} rank(s), expected one per GPU (${n})`, {
        metrics: { gpus: n, world: world ?? 0 },
      });
    const rows = arr(r.json!.sizes);
    const metrics: Record<string, number> = {};
    const thresholds: Record<string, string | number> = { gpus: n };
    const problems: string[] = [];
    const torchRef = ref?.allreduceBusbwGbps?.[n];
    const min = ctx.options.nccl?.minBusbwGbps ?? (torchRef !== undefined ? round(0.85 * torchRef, 0) : undefined);
    if (min !== undefined) thresholds.min_busbw_gbps = min;
    for (const row of rows) {
      const gib = round((num(row.bytes) ?? 0) / GiB, 2);
      metrics[`busbw_${gib}GiB_gbps`] = round(num(row.busbw_gbps) ?? 0, 1);
      if ((num(row.wrong) ?? 0) > 0) problems.push(`${num(row.wrong)} wrong elements at ${gib} GiB`);
    }
    const last = rows[rows.length - 1];
    const peak = num(last?.busbw_gbps) ?? 0;
    if (min !== undefined && peak < min) problems.push(`busbw ${round(peak, 1)} GB/s < ${min} at ${round((num(last?.bytes) ?? 0) / GiB, 2)} GiB`);
    const detail: string[] = rows.map(
      (x) =>
        `${num(x.bytes)} B: ${round(num(x.time_us) ?? 0, 1)} us, algbw ${round(num(x.algbw_gbps) ?? 0, 1)}, busbw ${round(num(x.busbw_gbps) ?? 0, 1)} GB/s, wrong ${num(x.wrong)}`,
    );
    const nt = await runNcclTests(ctx, n, ref?.ncclTestsBusbwGbps?.[n]);
    if (nt) {
      Object.assign(metrics, nt.metrics);
      Object.assign(thresholds, nt.thresholds);
      problems.push(...nt.problems);
      detail.push(nt.detail);
    } else detail.push('nccl-tests all_reduce_perf: not installed (torch all_reduce only)');
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, detail: detail.join('\n') })
      : pass({
          reason: `${n} GPUs, busbw ${round(peak, 1)} GB/s, all sums right${nt ? '; nccl-tests OK' : ''}`,
          metrics,
          thresholds,
          detail: detail.join('\n'),
        });
  },
};

async function runNcclTests(ctx: CheckCtx, n: number, ref: number | undefined) {
  const bin = await findAllReducePerf(ctx.env);
  if (!bin) return undefined;
  const args = ['-b', '1G', '-e', '2G', '-f', '2', '-g', String(n), '-c', '1', '-n', '20', '-w', '5'];
  ctx.log(`$ ${bin} ${args.join(' ')}`);
  const r = await ctx.exec(bin, args, { env: ctx.env, signal: ctx.signal, timeoutMs: 300_000 });
  await writeFile(join(ctx.rawDir, 'all_reduce_perf.txt'), `${r.stdout}\n${r.stderr}`).catch(() => {});
  const problems: string[] = [];
  const metrics: Record<string, number> = {};
  const thresholds: Record<string, string | number> = {};
  const run = parseNcclTests(r.stdout).at(-1);
  if (r.code !== 0) problems.push(`all_reduce_perf exited ${r.code}: ${causeLine(`${r.stdout}\n${r.stderr}`)}`);
  if (!run || run.rows.length === 0) {
    if (!problems.length) problems.push('all_reduce_perf printed no result rows');
    return { problems, metrics, thresholds, detail: `nccl-tests: ${bin} exit ${r.code}` };
  }
  const peak = peakBusbw(run)!;
  const wrong = wrongElements(run);
  metrics[`ncclt_busbw_${round(peak.size / GiB, 2)}GiB_gbps`] = peak.busbw;
  if (wrong) problems.push(`all_reduce_perf: ${wrong} wrong elements`);
  if (run.outOfBounds && !run.outOfBounds.ok) problems.push(`all_reduce_perf: ${run.outOfBounds.count} out-of-bounds values`);
  if (ref !== undefined) {
    thresholds.ncclt_min_busbw_gbps = round(0.9 * ref, 0);
    if (peak.busbw < 0.9 * ref) problems.push(`all_reduce_perf busbw ${peak.busbw} GB/s < ${round(0.9 * ref, 0)} at ${peak.size} B`);
  }
  return {
    problems,
    metrics,
    thresholds,
    detail: `nccl-tests ${run.version ?? ''}: busbw ${peak.busbw} GB/s at ${peak.size} B, avg ${run.avgBusbw ?? '?'} (not gated), wrong ${wrong ?? 'unchecked'}`,
  };
}
