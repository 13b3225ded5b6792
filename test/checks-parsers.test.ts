import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNcclTests, peakBusbw, wrongElements } from '../src/checks/nccl-tests.js';
import { parseNetDev } from '../src/checks/netns.js';
import { parseNvidiaSmiXml } from '../src/checks/nvsmi.js';
import { parseProbeJson, probeProblem } from '../src/checks/probe.js';
import { causeLine } from '../src/checks/proc.js';
import { parseSampleLine, parseSmiCsv, SAMPLER_FIELDS } from '../src/checks/thermal.js';
import { parseXids } from '../src/checks/xid.js';
import { parseXml } from '../src/checks/xml.js';

const fixture = (name: string) => readFile(join(import.meta.dirname, 'fixtures', 'checks', name), 'utf8');

describe('nvidia-smi -q -x (recorded on an H200 box)', () => {
  it('reads driver, CUDA, the GPU, its PCIe link, ECC, remapped rows, temperatures and clock reasons', async () => {
    const log = parseNvidiaSmiXml(await fixture('h200-nvidia-smi-q.xml'));
    expect(log).toMatchObject({ driverVersion: '580.159.04', cudaVersion: '13.0', attachedGpus: 1 });
    expect(log.gpus).toHaveLength(1);
    const g = log.gpus[0]!;
    expect(g).toMatchObject({
      busId: '00000000:00:06.0',
      index: 0,
      name: 'NVIDIA H200',
      architecture: 'Hopper',
      memoryTotalMiB: 143771,
      pcie: { genMax: 5, genCurrent: 5, widthMax: 16, widthCurrent: 16, replays: 0 },
      ecc: { mode: 'Enabled', volatileUncorrectable: 0, aggregateUncorrectable: 0, volatileCorrectable: 0 },
      remappedRows: { correctable: 0, uncorrectable: 0, pending: false, failure: false },
      power: { limitW: 700 },
      clocks: { smMaxMhz: 1980 },
    });
    // N/A values (retired pages on a row-remapping GPU, host link gen) are undefined, not 0 or NaN.
    expect(g.retiredPages).toEqual({ doubleBit: undefined, singleBit: undefined, pending: undefined });
    expect(g.pcie.genHostMax).toBeUndefined();
    expect(g.temperature.gpuC).toBeGreaterThan(0);
    expect(g.temperature.tlimitC).toBeGreaterThan(0);
    expect(g.activeReasons).toEqual(['gpu_idle']);
  });

  it('reads the older layout (throttle reasons, single/double bit ECC totals) and refuses other XML', () => {
    const old = `<?xml version="1.0" ?><!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">
<nvidia_smi_log><driver_version>535.183.01</driver_version><cuda_version>12.2</cuda_version><attached_gpus>2</attached_gpus>
<gpu id="00000000:17:00.0"><product_name>NVIDIA A100-SXM4-80GB</product_name>
<clocks_throttle_reasons><clocks_throttle_reason_hw_slowdown>Active</clocks_throttle_reason_hw_slowdown><clocks_throttle_reason_sw_power_cap>Not Active</clocks_throttle_reason_sw_power_cap></clocks_throttle_reasons>
<ecc_errors><volatile><single_bit><total>3</total></single_bit><double_bit><total>1</total></double_bit></volatile></ecc_errors>
<retired_pages><double_bit_retirement><retired_count>2</retired_count></double_bit_retirement><pending_retirement>Yes</pending_retirement></retired_pages></gpu>
<gpu id="00000000:31:00.0"><product_name>NVIDIA A100-SXM4-80GB</product_name></gpu></nvidia_smi_log>`;
    const log = parseNvidiaSmiXml(old);
    expect(log.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(log.gpus[0]).toMatchObject({
      activeReasons: ['hw_slowdown'],
      ecc: { volatileUncorrectable: 1, volatileCorrectable: 3 },
      retiredPages: { doubleBit: 2, pending: true },
    });
    expect(() => parseNvidiaSmiXml('<html><body/></html>')).toThrow(/not nvidia-smi XML/);
    expect(() => parseXml('<a><b></a>')).toThrow(/unexpected <\/a>/);
  });
});

describe('nccl-tests output (recorded on 2× H200)', () => {
  it('all_reduce_perf: 15 rows, 13 columns each, busbw at 2 GiB, no wrong elements, Avg line kept apart', async () => {
    const [run] = parseNcclTests(await fixture('all_reduce_perf.txt'));
    expect(run).toMatchObject({
      version: '2.19.6',
      collective: 'all_reduce_perf',
      nThread: 1,
      nGpus: 2,
      failed: false,
      avgBusbw: 96.6931,
      outOfBounds: { count: 0, ok: true },
    });
    expect(run!.devices).toEqual([
      { rank: 0, device: 0, busId: '0000:00:06', name: 'NVIDIA H200' },
      { rank: 1, device: 1, busId: '0000:00:07', name: 'NVIDIA H200' },
    ]);
    expect(run!.rows).toHaveLength(15);
    expect(run!.unparsed).toEqual([]);
    expect(run!.rows.at(-1)).toEqual({
      size: 2147483648,
      count: 536870912,
      type: 'float',
      redop: 'sum',
      root: -1,
      outOfPlace: { timeUs: 6312.44, algbw: 340.2, busbw: 340.2, wrong: 0 },
      inPlace: { timeUs: 6324.74, algbw: 339.54, busbw: 339.54, wrong: 0 },
    });
    expect(peakBusbw(run!)).toEqual({ size: 2147483648, busbw: 340.2 });
    expect(wrongElements(run!)).toBe(0);
  });

  it('all_gather_perf (redop none) and a FAILED min-bandwidth run with its trailing "Test failure" line', async () => {
    const [ag] = parseNcclTests(await fixture('all_gather_perf.txt'));
    expect(ag!.rows.map((r) => r.redop)).toEqual(['none', 'none', 'none']);
    expect(peakBusbw(ag!)).toEqual({ size: 1073741824, busbw: 294.48 });
    const runs = parseNcclTests(await fixture('minbw_fail.txt'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ failed: true, avgBusbw: 269.031 });
    expect(runs[0]!.failures).toEqual([' .. vm pid 1389: Test failure common.cu:1454'.trim()]);
  });

  it('-c 0 prints N/A for #wrong: unchecked, not zero', () => {
    const [run] = parseNcclTests('# nccl-tests version 2.19.6\n  1048576  262144  float  sum  -1  20.1  52.1  52.1  N/A  19.9  52.6  52.6  N/A\n');
    expect(run!.rows[0]!.outOfPlace.wrong).toBeUndefined();
    expect(wrongElements(run!)).toBeUndefined();
  });
});

describe('kernel log Xid lines', () => {
  it('finds none in the recorded H200 dmesg (NVRM lines but no Xid), and parses the documented form', async () => {
    expect(parseXids(await fixture('h200-dmesg.txt'))).toEqual([]);
    const x = parseXids('[ 1234.5] NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, reset gpu to activate.\n');
    expect(x).toEqual([
      {
        bus: '0000:10:1c',
        code: 63,
        message: 'pid=1896, Row Remapper: New row marked for remapping, reset gpu to activate.',
        line: '[ 1234.5] NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, reset gpu to activate.',
      },
    ]);
  });
});

describe('nvidia-smi CSV samples', () => {
  it('the sampler output recorded on the H200 (noheader, nounits): every line parses', async () => {
    const text = await fixture('h200-sampler.csv');
    const lines = text.split('\n').filter(Boolean);
    const samples = lines.map((l) => parseSampleLine(l, SAMPLER_FIELDS));
    expect(samples.every(Boolean)).toBe(true);
    expect(samples.length).toBeGreaterThan(100);
    const hot = samples.filter((s) => (s!.powerW ?? 0) > 600);
    expect(hot.length).toBeGreaterThan(10);
    expect(samples[0]).toMatchObject({ gpu: 0, pcieGen: 5, pcieWidth: 16 });
    expect(samples[0]!.reasons).toMatch(/^0x[0-9A-Fa-f]{16}$/);
  });

  it('CSV with a header and units (--format=csv) and the recorded burn (duplicate columns, [N/A])', async () => {
    const [s] = parseSmiCsv(await fixture('h200-query-header.csv'));
    expect(s).toMatchObject({ gpu: 0, tempC: 40, powerW: 81.67, smMhz: 345, reasons: '0x0000000000000001', tlimitC: 47, pcieGen: 5, pcieWidth: 16 });
    const burn = parseSmiCsv(await fixture('h200-burn.csv'));
    expect(burn).toHaveLength(43);
    expect(Math.max(...burn.map((b) => b.powerW!))).toBeGreaterThan(680);
    expect(burn[0]!.t).toBe(new Date(2026, 10, 28, 15, 45, 10, 659).getTime());
  });
});

describe('probe output', () => {
  it('takes the last JSON object line, ignoring library noise around it', async () => {
    expect(parseProbeJson('Warning: foo\n{"a": 1}\n{not json}\n')).toEqual({ a: 1 });
    expect(parseProbeJson('[1,2]\nplain\n')).toBeUndefined();
    const log = await fixture('h200-probes/matmul.log');
    expect(parseProbeJson(log)).toMatchObject({ n: 8192, dtype: 'bf16', gpus: [{ index: 0, name: 'NVIDIA H200', finite: true }] });
  });

  it('a probe error is a failed check; no JSON at all is an error with the cause line', () => {
    const base = { code: 1, stdout: '', stderr: '', command: 'python3 x.py' };
    expect(probeProblem({ ...base, json: { error: 'RuntimeError: CUDA error: out of memory' } }, 'matmul')).toMatchObject({
      status: 'fail',
      reason: 'matmul: RuntimeError: CUDA error: out of memory',
    });
    const tb = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nModuleNotFoundError: No module named \'torch\'\n';
    expect(probeProblem({ ...base, stderr: tb }, 'matmul')).toMatchObject({
      status: 'error',
      reason: "matmul gave no result: ModuleNotFoundError: No module named 'torch'",
    });
    expect(probeProblem({ ...base, code: 127 }, 'env')).toMatchObject({ status: 'error', reason: 'env gave no result: cannot run python3' });
    expect(probeProblem({ ...base, timedOut: true }, 'env')).toMatchObject({ status: 'error', reason: 'env timed out' });
    expect(causeLine('(EngineCore_DP0 pid=143) ValueError: No available memory for the cache blocks.\nRuntimeError: Engine core initialization failed.')).toBe(
      '(EngineCore_DP0 pid=143) ValueError: No available memory for the cache blocks.',
    );
  });
});

describe('network namespace facts', () => {
  it('reads interface names from /proc/net/dev', () => {
    const dev = 'Inter-|   Receive |  Transmit\n face |bytes    packets\n    lo: 1 2 0 0\n  eth0: 3 4 0 0\n';
    expect(parseNetDev(dev)).toEqual(['eth0', 'lo']);
  });
});
