import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { betterOf, compareBaseline, makeBaseline, baselineKey, serializeBaseline, BASELINE_SCHEMA, type BaselineFile } from '../src/checks/baseline.js';
import type { CheckResult } from '../src/checks/check.js';
import { exitCodeFor, humanSummary, summarize, toJunit } from '../src/checks/report.js';
import { niceTicks, thermalSvg } from '../src/checks/svg.js';
import { decodeThrottle, evaluateThermal, parseSmiCsv, samplesToCsv, CSV_HEADER, type ThermalSample } from '../src/checks/thermal.js';
import { parseXml, type XmlNode } from '../src/checks/xml.js';
import { JUNIT_10_XSD } from './helpers/junit-xsd.js';

const fixture = (name: string) => readFile(join(import.meta.dirname, 'fixtures', 'checks', name), 'utf8');

const results: CheckResult[] = [
  {
    id: 'gpu.inventory',
    status: 'pass',
    durationMs: 120,
    started: '2026-11-29T03:48:19.430Z',
    reason: '1 × NVIDIA H200',
    metrics: { gpu_count: 1 },
    versions: { gpu_model: 'NVIDIA H200', gpu_count: '1', driver: '580.159.04', cuda: '13.0' },
  },
  {
    id: 'gpu.matmul',
    status: 'fail',
    durationMs: 14900,
    started: '2026-11-29T03:48:26Z',
    reason: 'GPU 0: 500 TFLOP/s < 671.5 & "clocks" <low> \'x\'',
    detail: 'bad\u0001 bytes\u0007 and ]]> and <tag>',
    metrics: { gpu0_tflops: 500 },
  },
  { id: 'nccl.allreduce', status: 'skip', durationMs: 0, reason: 'needs 2 GPUs' },
  { id: 'models.load', status: 'error', durationMs: 5, reason: 'models.load crashed: boom' },
];

const all = (n: XmlNode, name: string): XmlNode[] => [...(n.name === name ? [n] : []), ...n.children.flatMap((c) => all(c, name))];

describe('JUnit XML', () => {
  it('is well-formed, escapes everything, and its counts add up on every suite and on the root', () => {
    const xml = toJunit({ checks: results, box: { hostname: 'vm', gpu_model: 'NVIDIA H200 <&>' }, started: '2026-11-29T03:48:19.420Z', durationMs: 61300 });
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')).toBe(true);
    expect(xml).not.toMatch(/[\u0001\u0007]/);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '4', failures: '1', errors: '1', time: '61.300' });
    // Jenkins' junit-10.xsd has no skipped or timestamp on <testsuites> (they stay on each <testsuite>).
    expect(root.attrs.skipped).toBeUndefined();
    expect(root.attrs.timestamp).toBeUndefined();
    const suites = all(root, 'testsuite');
    expect(suites.map((s) => s.attrs.name)).toEqual(['gpu', 'nccl', 'models']);
    for (const s of suites) {
      const cases = all(s, 'testcase');
      expect(Number(s.attrs.tests)).toBe(cases.length);
      expect(Number(s.attrs.failures)).toBe(cases.filter((c) => c.children.some((x) => x.name === 'failure')).length);
      expect(Number(s.attrs.errors)).toBe(cases.filter((c) => c.children.some((x) => x.name === 'error')).length);
      expect(Number(s.attrs.skipped)).toBe(cases.filter((c) => c.children.some((x) => x.name === 'skipped')).length);
      expect(s.attrs.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    }
    const failure = all(root, 'failure')[0]!;
    expect(failure.attrs.message).toBe(results[1]!.reason);
    expect(failure.text).toBe('bad bytes and ]]> and <tag>');
    expect(all(root, 'skipped')[0]!.attrs.message).toBe('needs 2 GPUs');
    expect(all(root, 'error')[0]!.attrs).toMatchObject({ message: 'models.load crashed: boom', type: 'CheckError' });
    expect(all(root, 'property').find((p) => p.attrs.name === 'gpu_model')!.attrs.value).toBe('NVIDIA H200 <&>');
    expect(all(root, 'testcase')[0]!.attrs).toMatchObject({ classname: 'smoke.gpu', name: 'gpu.inventory', time: '0.120' });
  });

  it('the real run from the H200 box parses too', async () => {
    const xml = await readFile(join(import.meta.dirname, '..', 'bench', 'results', '2026-11-29-h200-smoke', 'junit.xml'), 'utf8');
    expect(parseXml(xml).attrs).toMatchObject({ tests: '12', failures: '0', errors: '0', skipped: '2' });
  });
});

describe('summary and exit code', () => {
  it('counts statuses; exit 0 only without fail or error', () => {
    expect(summarize(results)).toEqual({ total: 4, pass: 1, fail: 1, skip: 1, error: 1 });
    expect(exitCodeFor(results)).toBe(1);
    expect(exitCodeFor([results[0]!, results[2]!])).toBe(0);
    expect(exitCodeFor([{ id: 'x', status: 'error', durationMs: 0 }])).toBe(1);
    const text = humanSummary({
      checks: results,
      summary: summarize(results),
      ok: false,
      network: { interfaces: ['lo'], loopback: 'up', isolated: true, netns: true },
      box: results[0]!.versions!,
    });
    expect(text).toMatch(/^1 × NVIDIA H200, driver 580\.159\.04, CUDA 13\.0$/m);
    expect(text).toMatch(/^network: isolated \(no interface but lo\), lo up, own network namespace$/m);
    expect(text).toMatch(/^FAIL {3}gpu\.matmul\s+14\.9 s {2}GPU 0: 500/m);
    expect(text).toMatch(/^SKIP {3}nccl\.allreduce\s+0\.0 s {2}needs 2 GPUs$/m);
    expect(text).toMatch(/^ERROR {2}models\.load/m);
    expect(text.trim().split('\n').at(-1)).toBe('FAILED: 1 passed, 1 failed, 1 skipped, 1 errors');
  });
});

describe('baselines', () => {
  const versions = { gpu_model: 'NVIDIA H200', gpu_count: '1', driver: '580.159.04', cuda: '13.0', torch: '2.11.0+cu130' };
  const run = (tflops: number, loadSec: number, status: CheckResult['status'] = 'pass'): CheckResult[] => [
    { id: 'gpu.matmul', status, durationMs: 1, metrics: { gpu0_tflops: tflops, gpu0_sustained_tflops: tflops * 0.83 } },
    { id: 'models.load', status: 'pass', durationMs: 1, metrics: { models: 2, tiny_load_sec: loadSec } },
    { id: 'gpu.thermal', status: 'pass', durationMs: 1, metrics: { gpu0_max_temp_c: 63 } },
  ];

  it('keeps metrics with a direction (by unit suffix) from passed checks, keyed by GPU/driver/CUDA/torch/vLLM', () => {
    expect([
      betterOf('gpu0_tflops'),
      betterOf('busbw_2GiB_gbps'),
      betterOf('gpu0_tok_s'),
      betterOf('x_load_sec'),
      betterOf('serve_completion_ms'),
      betterOf('gpu0_max_temp_c'),
      betterOf('models'),
    ]).toEqual(['higher', 'higher', 'higher', 'lower', 'lower', undefined, undefined]);
    const b = makeBaseline(run(795, 0.9), versions, '2026-11-29T00:00:00Z');
    expect(b).toEqual({
      schema: BASELINE_SCHEMA,
      created: '2026-11-29T00:00:00Z',
      key: { gpuModel: 'NVIDIA H200', gpuCount: '1', driver: '580.159.04', cuda: '13.0', torch: '2.11.0+cu130', vllm: 'none' },
      metrics: {
        'gpu.matmul/gpu0_tflops': { value: 795, better: 'higher', repeats: 1 },
        'gpu.matmul/gpu0_sustained_tflops': { value: 795 * 0.83, better: 'higher', repeats: 1 },
        'models.load/tiny_load_sec': { value: 0.9, better: 'lower', repeats: 1 },
      },
    });
    expect(Object.keys(makeBaseline(run(795, 0.9, 'fail'), versions).metrics)).toEqual(['models.load/tiny_load_sec']);
    expect(JSON.parse(serializeBaseline(b))).toEqual(b);
  });

  it('flags regressions beyond the tolerance in the right direction, by ratio', () => {
    const base = makeBaseline(run(800, 1.0), versions);
    const same = compareBaseline(base, makeBaseline(run(730, 1.09), versions));
    expect(same.regressions).toEqual([]);
    expect(same.metrics.find((m) => m.metric === 'gpu.matmul/gpu0_tflops')).toMatchObject({ ratio: 0.913, status: 'ok' });
    const worse = compareBaseline(base, makeBaseline(run(710, 1.2), versions));
    expect(worse.regressions.map((m) => [m.metric, m.ratio])).toEqual([
      ['gpu.matmul/gpu0_sustained_tflops', 0.888],
      ['gpu.matmul/gpu0_tflops', 0.888],
    ]);
    // A load time measured once: its spread is unknown and timings are noisy (25 % floor), so it is reported, not gated.
    expect(worse.metrics.find((m) => m.metric === 'models.load/tiny_load_sec')).toMatchObject({ ratio: 1.2, gated: false, tolerance: 0.25, status: 'ok' });
    expect(compareBaseline(base, makeBaseline(run(800, 1.3), versions)).metrics.find((m) => m.metric === 'models.load/tiny_load_sec')).toMatchObject({
      status: 'noisy',
    });
    const better = compareBaseline(base, makeBaseline(run(900, 0.5), versions), 0.05);
    expect(better.metrics.map((m) => m.status)).toEqual(['improved', 'improved', 'improved']);
    const partial = compareBaseline(base, makeBaseline(run(800, 1.0).slice(1), versions));
    expect(partial.metrics.filter((m) => m.status === 'missing').map((m) => m.metric)).toEqual(['gpu.matmul/gpu0_sustained_tflops', 'gpu.matmul/gpu0_tflops']);
    expect(partial.regressions).toEqual([]);
  });

  it('refuses to compare across keys and says which fields differ', () => {
    const base: BaselineFile = makeBaseline(run(800, 1), versions);
    const c = compareBaseline(base, makeBaseline(run(400, 9), { ...versions, driver: '575.57.08', vllm: '0.11.0' }));
    expect(c.comparable).toBe(false);
    expect(c.keyDiffs).toEqual(['driver: 580.159.04 → 575.57.08', 'vllm: none → 0.11.0']);
    expect(c.metrics).toEqual([]);
    expect(c.regressions).toEqual([]);
    expect(baselineKey({}).gpuModel).toBe('none');
  });
});

describe('thermal', () => {
  it('decodes the clocks_event_reasons mask; only HW slowdown, thermal slowdowns and power brake are bad', () => {
    expect(decodeThrottle('0x0000000000000004')).toEqual({ names: ['sw_power_cap'], bad: [], unknownBits: 0n });
    expect(decodeThrottle('0x0000000000000001').names).toEqual(['gpu_idle']);
    expect(decodeThrottle(0x4c).bad).toEqual(['hw_slowdown', 'hw_thermal_slowdown']);
    expect(decodeThrottle('00000000000000A0')).toMatchObject({ bad: ['sw_thermal_slowdown', 'hw_power_brake_slowdown'] });
    expect(decodeThrottle(0x1ffn | 0x1000n).unknownBits).toBe(0x1000n);
    expect(decodeThrottle(0x1ff).names).toHaveLength(9);
  });

  it('the recorded H200 burn passes: power capped at 700 W (sw_power_cap) is normal', async () => {
    const v = evaluateThermal(parseSmiCsv(await fixture('h200-burn.csv')));
    expect(v.ok).toBe(true);
    expect(v.problems).toEqual([]);
    expect(v.metrics.gpu0_max_temp_c).toBeGreaterThanOrEqual(59);
    expect(v.metrics.gpu0_power_cap_samples).toBeGreaterThan(10);
    expect(v.thresholds).toMatchObject({ max_temp_c: 85 });
  });

  it('fails on HW slowdown, on the temperature limit, and on T.Limit headroom gone', () => {
    const t = Date.UTC(2026, 10, 29);
    const s: ThermalSample[] = [
      { t, gpu: 0, tempC: 60, powerW: 690, reasons: '0x0000000000000004', tlimitC: 20 },
      { t: t + 500, gpu: 0, tempC: 88, powerW: 500, reasons: '0x0000000000000048', tlimitC: 0 },
      { t, gpu: 1, tempC: 50, powerW: 600, reasons: '0x0000000000000004', tlimitC: 25 },
    ];
    const v = evaluateThermal(s, { maxTempC: 85 });
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      'GPU 0: hw_slowdown active in 1 of 2 samples',
      'GPU 0: hw_thermal_slowdown active in 1 of 2 samples',
      'GPU 0: 88 °C reached the limit of 85 °C',
      'GPU 0: only 0 °C of headroom before T.Limit (minimum 1 °C)',
    ]);
    expect(evaluateThermal(s.filter((x) => x.gpu === 1)).ok).toBe(true);
  });

  it('CSV → thermal.csv and a well-formed SVG with one line per GPU per panel', async () => {
    const samples = parseSmiCsv(await fixture('h200-burn.csv'));
    const two = [...samples, ...samples.map((s) => ({ ...s, gpu: 1, tempC: (s.tempC ?? 0) + 3 }))];
    const csv = samplesToCsv(two);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines).toHaveLength(two.length + 1);
    expect(lines[1]).toBe(`${new Date(2026, 10, 28, 15, 45, 10, 659).toISOString()},0,37,125.25,1980,0x0000000000000001,gpu_idle,,5,16`);
    const svg = thermalSvg(two, { title: 'H200 <burn> & idle', phases: [{ id: 'gpu.matmul', start: two[15]!.t, end: two[40]!.t }] });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(all(root, 'path')).toHaveLength(4);
    expect(all(root, 'text').map((x) => x.text)).toEqual(
      expect.arrayContaining(['H200 <burn> & idle', 'GPU 0', 'GPU 1', 'gpu.matmul', 'GPU temperature (°C)', 'Power draw (W)']),
    );
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    expect(parseXml(thermalSvg([])).name).toBe('svg');
    expect(niceTicks(0, 694.4)).toEqual([0, 200, 400, 600, 800]);
    expect(niceTicks(0, 21.3, 8)).toEqual([0, 5, 10, 15, 20, 25]);
  });
});

describe("JUnit XML against Jenkins' schema", () => {
  it.skipIf(spawnSync('xmllint', ['--version']).status !== 0)('validates with xmllint --schema junit-10.xsd (pass, fail, error, skip)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-junit-'));
    try {
      await writeFile(join(dir, 'junit-10.xsd'), JUNIT_10_XSD);
      await writeFile(
        join(dir, 'junit.xml'),
        toJunit({ checks: results, box: { hostname: 'vm', gpu_model: 'NVIDIA H200 <&>' }, started: '2026-11-29T03:48:19.420Z', durationMs: 61300 }),
      );
      const r = spawnSync('xmllint', ['--noout', '--schema', join(dir, 'junit-10.xsd'), join(dir, 'junit.xml')], { encoding: 'utf8' });
      expect(r.stderr).toContain('junit.xml validates');
      expect(r.status).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
