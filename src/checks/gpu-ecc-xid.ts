import { type Check, fail, pass } from './check.js';
import { readNvidiaSmi } from './nvsmi.js';
import { type XidEvent, SERIOUS_XIDS, readKernelXids } from './xid.js';

/**
 * gpu.ecc-xid, run last: no uncorrectable ECC error since the driver loaded, no pending or failed row remap,
 * no page pending retirement, and no new NVRM Xid in the kernel log since the run started (the log is read
 * before the first check; when neither dmesg nor journalctl can be read, the Xid part is skipped with the reason).
 */
export const gpuEccXid: Check = {
  id: 'gpu.ecc-xid',
  title: 'ECC, row remapping and kernel Xid errors',
  needs: ['gpu.inventory'],
  timeoutMs: 90_000,
  async before(ctx) {
    ctx.state.xidBefore = await readKernelXids(ctx.exec, { env: ctx.env, signal: ctx.signal });
  },
  async run(ctx) {
    const fresh = await readNvidiaSmi(ctx.exec, { env: ctx.env, signal: ctx.signal });
    const log = 'log' in fresh ? fresh.log : ctx.state.nvsmi;
    if (!log) return fail('log' in fresh ? 'no nvidia-smi data' : fresh.problem);
    const metrics: Record<string, number> = {};
    const problems: string[] = [];
    const notes: string[] = [];
    for (const g of log.gpus) {
      const p = `gpu${g.index}`;
      const e = g.ecc;
      if (e.volatileUncorrectable !== undefined) metrics[`${p}_ecc_volatile_uncorrectable`] = e.volatileUncorrectable;
      if (e.aggregateUncorrectable !== undefined) metrics[`${p}_ecc_aggregate_uncorrectable`] = e.aggregateUncorrectable;
      if (e.volatileCorrectable !== undefined) metrics[`${p}_ecc_volatile_correctable`] = e.volatileCorrectable;
      if (g.remappedRows.uncorrectable !== undefined) metrics[`${p}_remapped_rows_uncorrectable`] = g.remappedRows.uncorrectable;
      if (g.retiredPages.doubleBit !== undefined) metrics[`${p}_retired_pages_dbe`] = g.retiredPages.doubleBit;
      if (e.mode && !/enabled/i.test(e.mode)) notes.push(`GPU ${g.index}: ECC ${e.mode}`);
      if ((e.volatileUncorrectable ?? 0) > 0) problems.push(`GPU ${g.index}: ${e.volatileUncorrectable} uncorrectable ECC errors since the driver loaded`);
      if ((e.aggregateUncorrectable ?? 0) > 0) notes.push(`GPU ${g.index}: ${e.aggregateUncorrectable} uncorrectable ECC errors in its lifetime`);
      if (g.remappedRows.pending) problems.push(`GPU ${g.index}: a row remap is pending (reset the GPU)`);
      if (g.remappedRows.failure) problems.push(`GPU ${g.index}: row remapping failed (the GPU needs service)`);
      if (g.retiredPages.pending) problems.push(`GPU ${g.index}: pages are pending retirement (reset the GPU)`);
    }
    const before = ctx.state.xidBefore;
    const after = await readKernelXids(ctx.exec, { env: ctx.env, signal: ctx.signal });
    const thresholds: Record<string, string | number> = { volatile_uncorrectable: 0, remap_pending: 'No', remap_failure: 'No' };
    if (before?.readable && after.readable) {
      const old = new Set(before.events.map((x) => x.line));
      const fresh: XidEvent[] = after.events.filter((x) => !old.has(x.line));
      metrics.xid_new = fresh.length;
      metrics.xid_before_run = before.events.length;
      thresholds.xid_new = 0;
      for (const x of fresh) problems.push(`Xid ${x.code} on ${x.bus} during the run: ${x.message}`);
      const serious = before.events.filter((x) => SERIOUS_XIDS.has(x.code));
      if (serious.length)
        notes.push(`${serious.length} serious Xid(s) in the kernel log before the run (codes ${[...new Set(serious.map((x) => x.code))].join(', ')})`);
    } else {
      const why = !after.readable ? after.reason : before && !before.readable ? before.reason : 'no kernel log snapshot before the run';
      thresholds.xid = `not checked: ${why}`;
      notes.push(`Xid scan skipped: ${why}`);
    }
    return problems.length
      ? fail(problems.join('; '), { metrics, thresholds, detail: notes.join('\n') })
      : pass({ reason: ['no uncorrectable ECC errors, no pending remaps', ...notes].join('; '), metrics, thresholds });
  },
};
