import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckCtx } from '../src/checks/check.js';
import { gpuEccXid } from '../src/checks/gpu-ecc-xid.js';
import { gpuPcie } from '../src/checks/gpu-pcie.js';
import { inferenceVllm } from '../src/checks/inference-vllm.js';
import { ncclAllreduce } from '../src/checks/nccl-allreduce.js';
import { parseNvidiaSmiXml } from '../src/checks/nvsmi.js';
import type { CheckExec, ProcResult } from '../src/checks/proc.js';
import { pcieFloorGbps } from '../src/checks/reference.js';
import { startSampler } from '../src/checks/thermal.js';
import { tempDir } from './helpers/tmp.js';

const FIX = join(import.meta.dirname, 'fixtures', 'checks');
const fixture = (name: string) => readFile(join(FIX, name), 'utf8');
const ok = (stdout: string): ProcResult => ({ code: 0, stdout, stderr: '' });

async function ctx(exec: CheckExec, o: Partial<CheckCtx> = {}): Promise<CheckCtx> {
  const dir = await tempDir();
  return {
    exec,
    env: { PATH: '/nonexistent' },
    options: {},
    state: { models: [] },
    workDir: dir,
    outDir: dir,
    rawDir: join(dir, 'raw'),
    signal: new AbortController().signal,
    log: () => {},
    report: () => {},
    ...o,
  };
}

/** Two H200s: `nvidia-smi -q -x` recorded on the 2-GPU box (bench/results/2026-12-01-h200x2-smoke). */
const twoGpuXml = () => fixture('h200x2-nvidia-smi-q.xml');

describe('nccl.allreduce', () => {
  it('skips with one GPU ("needs 2 GPUs")', async () => {
    const c = await ctx(async () => ok(''), { state: { models: [], nvsmi: parseNvidiaSmiXml(await fixture('h200-nvidia-smi-q.xml')) } });
    expect(await ncclAllreduce.run(c)).toMatchObject({ status: 'skip', reason: 'needs 2 GPUs' });
  });

  it('2 GPUs: torchrun probe (one process per GPU) + nccl-tests all_reduce_perf when installed, gated on the largest size', async () => {
    const nvsmi = parseNvidiaSmiXml(await twoGpuXml());
    const bin = await tempDir();
    await writeFile(join(bin, 'all_reduce_perf'), `#!/bin/sh\ncat '${join(FIX, 'all_reduce_perf.txt')}'\n`);
    await chmod(join(bin, 'all_reduce_perf'), 0o755);
    const calls: { cmd: string; args: readonly string[] }[] = [];
    const probe = {
      world: 2,
      nccl: '2.28.9',
      sizes: [
        { bytes: 1073741824, time_us: 6566, algbw_gbps: 163.5, busbw_gbps: 163.5, wrong: 0 },
        { bytes: 2147483648, time_us: 6560, algbw_gbps: 327.4, busbw_gbps: 327.4, wrong: 0 },
      ],
    };
    const exec: CheckExec = async (cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'python3') return ok(`${JSON.stringify(probe)}\n`);
      if (cmd.endsWith('all_reduce_perf')) return ok(await fixture('all_reduce_perf.txt'));
      return { code: 127, stdout: '', stderr: '' };
    };
    const r = await ncclAllreduce.run(await ctx(exec, { env: { PATH: bin }, state: { models: [], nvsmi } }));
    expect(r.status).toBe('pass');
    expect(r.metrics).toEqual({ busbw_1GiB_gbps: 163.5, busbw_2GiB_gbps: 327.4, ncclt_busbw_2GiB_gbps: 340.2 });
    expect(r.thresholds).toMatchObject({ gpus: 2, min_busbw_gbps: 278, ncclt_min_busbw_gbps: 306 });
    expect(calls[0]!.args.slice(0, 4)).toEqual(['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node=2']);
    expect(calls[1]!.args).toEqual(['-b', '1G', '-e', '2G', '-f', '2', '-g', '2', '-c', '1', '-n', '20', '-w', '5']);

    const wrong = { ...probe, sizes: [{ ...probe.sizes[1]!, wrong: 12, busbw_gbps: 200 }] };
    const bad: CheckExec = async (cmd) => (cmd === 'python3' ? ok(JSON.stringify(wrong)) : { code: 127, stdout: '', stderr: '' });
    const f = await ncclAllreduce.run(await ctx(bad, { state: { models: [], nvsmi } }));
    expect(f).toMatchObject({ status: 'fail', reason: '12 wrong elements at 2 GiB; busbw 200 GB/s < 278 at 2 GiB' });
  });

  it('the real 2-GPU run on two H200s (NVLink, NCCL 2.28.9): passes at 337 GB/s busbw, every element right', async () => {
    const nvsmi = parseNvidiaSmiXml(await fixture('h200x2-nvidia-smi-q.xml'));
    expect(nvsmi.gpus.map((g) => g.name)).toEqual(['NVIDIA H200', 'NVIDIA H200']);
    const log = await fixture('h200x2-probes/allreduce.log');
    const stdout = /\n# stdout\n([\s\S]*?)\n# stderr\n/.exec(log)![1]!;
    const calls: (readonly string[])[] = [];
    const exec: CheckExec = async (cmd, args) => (calls.push(args), cmd === 'python3' ? ok(stdout) : { code: 127, stdout: '', stderr: '' });
    const r = await ncclAllreduce.run(await ctx(exec, { state: { models: [], nvsmi } }));
    expect(r).toMatchObject({
      status: 'pass',
      reason: '2 GPUs, busbw 337.3 GB/s, all sums right',
      metrics: { busbw_1GiB_gbps: 326.7, busbw_2GiB_gbps: 337.3 },
      thresholds: { gpus: 2, min_busbw_gbps: 278 },
    });
    expect(calls[0]).toContain('--nproc-per-node=2');
  });

  it('the real launch on the H200 (torchrun, NCCL 2.28.9, NCCL banner before the JSON) parses; a world smaller than the GPUs is an error of the launch, not a bandwidth', async () => {
    const log = await fixture('h200-probes/allreduce-world1.log');
    const stdout = /\n# stdout\n([\s\S]*?)\n# stderr\n/.exec(log)![1]!;
    const exec: CheckExec = async (cmd) => (cmd === 'python3' ? ok(stdout) : { code: 127, stdout: '', stderr: '' });
    const two = parseNvidiaSmiXml(await twoGpuXml());
    expect(await ncclAllreduce.run(await ctx(exec, { state: { models: [], nvsmi: two } }))).toMatchObject({
      status: 'fail',
      reason: 'torchrun all_reduce had 1 rank(s), expected one per GPU (2)',
      metrics: { gpus: 2, world: 1 },
    });
    const asTwo: CheckExec = async (cmd) => (cmd === 'python3' ? ok(stdout.replace('"world": 1', '"world": 2')) : { code: 127, stdout: '', stderr: '' });
    const r = await ncclAllreduce.run(await ctx(asTwo, { state: { models: [], nvsmi: two } }));
    expect(r).toMatchObject({ status: 'fail', reason: 'busbw 0 GB/s < 278 at 2 GiB', metrics: { busbw_1GiB_gbps: 0, busbw_2GiB_gbps: 0 } });
  });
});

describe('inference.vllm', () => {
  const models = [{ repo: 'vault-ai/tiny-gpt2', commit: 'a'.repeat(40), home: '/m' }];
  it('offline generate and serve: pass with tokens/s, readiness and the completion', async () => {
    const exec: CheckExec = async (_cmd, args) =>
      ok(
        args.includes('offline')
          ? JSON.stringify({ mode: 'offline', vllm: '0.11.0', load_sec: 20, tokens: 16, asked: 16, deterministic: true, text: ' foo', tok_s: 12000 })
          : JSON.stringify({ mode: 'serve', vllm: '0.11.0', ready_sec: 31.2, models: ['/m/hub/x'], status: 200, text: ' bar', completion_sec: 0.05 }),
      );
    const r = await inferenceVllm.run(await ctx(exec, { state: { models } }));
    expect(r).toMatchObject({
      status: 'pass',
      versions: { vllm: '0.11.0' },
      metrics: { offline_tokens: 16, offline_tok_s: 12000, serve_ready_sec: 31.2, serve_completion_ms: 50 },
    });
  });

  it('non-deterministic output and a server that never got ready fail, naming the first error line', async () => {
    const exec: CheckExec = async (_cmd, args) =>
      ok(
        args.includes('offline')
          ? JSON.stringify({ vllm: '0.11.0', tokens: 16, deterministic: false })
          : JSON.stringify({ error: 'vllm serve exited with 1: torch.OutOfMemoryError: CUDA out of memory.', log_tail: '...' }),
      );
    const r = await inferenceVllm.run(await ctx(exec, { state: { models } }));
    expect(r.status).toBe('fail');
    expect(r.reason).toBe(
      'two greedy generations of the same prompt differ; vllm serve: vllm serve exited with 1: torch.OutOfMemoryError: CUDA out of memory.',
    );
  });
});

describe('gpu.pcie and gpu.ecc-xid', () => {
  it('a link read at Gen1 while idle passes when the sampler saw Gen5 under load; a narrow link fails', async () => {
    const xml = (await fixture('h200-nvidia-smi-q.xml')).replace('<current_link_gen>5</current_link_gen>', '<current_link_gen>1</current_link_gen>');
    const exec: CheckExec = async () => ok(xml);
    const underLoad = [{ t: 1, gpu: 0, pcieGen: 5, pcieWidth: 16 }];
    expect((await gpuPcie.run(await ctx(exec, { state: { models: [], thermal: underLoad } }))).status).toBe('pass');
    expect(await gpuPcie.run(await ctx(exec))).toMatchObject({ status: 'fail', reason: 'GPU 0: link Gen1 < Gen5 (read at idle: links downclock when idle)' });
    const narrow: CheckExec = async () => ok(xml.replace('<current_link_width>16x</current_link_width>', '<current_link_width>8x</current_link_width>'));
    const narrowUnderLoad = [{ t: 1, gpu: 0, pcieGen: 5, pcieWidth: 8 }];
    expect(await gpuPcie.run(await ctx(narrow, { state: { models: [], thermal: narrowUnderLoad } }))).toMatchObject({
      status: 'fail',
      reason: 'GPU 0: link width x8 < x16',
      metrics: { gpu0_pcie_width: 8, gpu0_pcie_width_max: 16 },
    });
  });

  it('fails on a new Xid during the run and on pending row remaps; says why when the kernel log is unreadable', async () => {
    const xml = await fixture('h200-nvidia-smi-q.xml');
    const dmesg = await fixture('h200-dmesg.txt');
    let after = dmesg;
    const exec: CheckExec = async (cmd) => (cmd === 'nvidia-smi' ? ok(xml) : cmd === 'dmesg' ? ok(after) : { code: 127, stdout: '', stderr: '' });
    const c = await ctx(exec);
    await gpuEccXid.before!(c);
    expect(await gpuEccXid.run(c)).toMatchObject({ status: 'pass', metrics: { xid_new: 0, xid_before_run: 0 } });
    after = `${dmesg}[  812.1] NVRM: Xid (PCI:0000:00:06): 79, pid=2211, GPU has fallen off the bus.\n`;
    expect(await gpuEccXid.run(c)).toMatchObject({
      status: 'fail',
      reason: 'Xid 79 on 0000:00:06 during the run: pid=2211, GPU has fallen off the bus.',
      metrics: { xid_new: 1 },
    });

    const remap: CheckExec = async (cmd) =>
      cmd === 'nvidia-smi'
        ? ok(
            xml
              .replace('<remapped_row_pending>No</remapped_row_pending>', '<remapped_row_pending>Yes</remapped_row_pending>')
              .replace('<dram_uncorrectable>0</dram_uncorrectable>', '<dram_uncorrectable>2</dram_uncorrectable>'),
          )
        : { code: 1, stdout: '', stderr: 'dmesg: read kernel buffer failed: Operation not permitted\n' };
    const c2 = await ctx(remap);
    await gpuEccXid.before!(c2);
    const r = await gpuEccXid.run(c2);
    expect(r.status).toBe('fail');
    expect(r.reason).toBe('GPU 0: 2 uncorrectable ECC errors since the driver loaded; GPU 0: a row remap is pending (reset the GPU)');
    expect(r.thresholds!.xid).toMatch(/^not checked: dmesg: dmesg: read kernel buffer failed: Operation not permitted; journalctl: /);
  });
});

describe('sampler and references', () => {
  it('collects samples from a running process and stops it', async () => {
    const line = '2026/11/29 03:48:26.191, 0, 42, 125.18, 1980, 0x0000000000000000, 45, 5, 16';
    const s = startSampler(
      [
        'timestamp',
        'index',
        'temperature.gpu',
        'power.draw',
        'clocks.sm',
        'clocks_event_reasons.active',
        'temperature.gpu.tlimit',
        'pcie.link.gen.current',
        'pcie.link.width.current',
      ],
      {
        command: 'sh',
        args: ['-c', `while true; do echo '${line}'; sleep 0.05; done`],
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    const got = await s.stop();
    expect(got.samples.length).toBeGreaterThan(2);
    expect(got.samples[0]).toMatchObject({ gpu: 0, tempC: 42, powerW: 125.18, smMhz: 1980, tlimitC: 45, pcieGen: 5, pcieWidth: 16 });
    const none = await startSampler(['timestamp', 'index'], { command: 'no-such-nvidia-smi-xyz' }).stop();
    expect(none.problem).toMatch(/ENOENT/);
  });

  it('PCIe floors: 40 GB/s on Gen5 x16 (55 measured on H200), half on Gen4 x16 or Gen5 x8', () => {
    expect(pcieFloorGbps(5, 16)).toBe(40);
    expect(pcieFloorGbps(4, 16)).toBe(20);
    expect(pcieFloorGbps(5, 8)).toBe(20);
    expect(pcieFloorGbps(undefined, 16)).toBeUndefined();
  });
});
