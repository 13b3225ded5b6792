import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckCtx } from '../src/checks/check.js';
import { gpuInventory } from '../src/checks/gpu-inventory.js';
import { expectationsFromArtifacts, modelsFromArtifacts } from '../src/checks/models.js';
import type { CheckExec, ProcResult } from '../src/checks/proc.js';
import { runProcess } from '../src/checks/proc.js';
import type { SmokeReport } from '../src/checks/report.js';
import { parseSampleLine, SAMPLER_FIELDS, type ThermalSample } from '../src/checks/thermal.js';
import { parseXml } from '../src/checks/xml.js';
import { OFFLINE_ENV, runSmoke } from '../src/smoke/smoke.js';
import type { Locked } from '../src/sources/source.js';
import { tempDir } from './helpers/tmp.js';

const FIX = join(import.meta.dirname, 'fixtures', 'checks');
const fixture = (name: string) => readFile(join(FIX, name), 'utf8');
const ok = (stdout: string): ProcResult => ({ code: 0, stdout, stderr: '' });

/** The stdout a probe printed on the H200 box, from its recorded log. */
async function recordedProbe(name: string): Promise<string> {
  const m = /\n# stdout\n([\s\S]*?)\n# stderr\n/.exec(await fixture(`h200-probes/${name}.log`));
  if (!m) throw new Error(`no stdout in ${name}.log`);
  return m[1]!;
}

type Call = { cmd: string; args: readonly string[]; env?: NodeJS.ProcessEnv };

/**
 * Answers like the recorded H200 box: nvidia-smi's XML and query, dmesg, every probe's recorded stdout
 * (`probes` replaces some). Anything else is "not installed" (127), as a shell would say.
 */
async function h200Box(probes: Record<string, string> = {}): Promise<CheckExec & { calls: Call[] }> {
  const xml = await fixture('h200-nvidia-smi-q.xml');
  const dmesg = await fixture('h200-dmesg.txt');
  const out: Record<string, string> = {};
  for (const p of ['env', 'matmul', 'membw', 'h2d', 'models-0', 'generate', 'vllm-offline']) out[p] = probes[p] ?? (await recordedProbe(p));
  const calls: Call[] = [];
  const exec = (async (cmd, args, o) => {
    calls.push({ cmd, args, env: o?.env });
    if (cmd === 'nvidia-smi' && args.includes('-x')) return ok(xml);
    if (cmd === 'nvidia-smi' && args.some((a) => a.startsWith('--query-gpu')))
      return ok('2026/11/29 03:48:18.924, 0, 40, 81.67, 345, 0x0000000000000001, 47, 5, 16\n');
    if (cmd === 'dmesg') return ok(dmesg);
    const name = /([\w-]+)\.py$/.exec(args[0] ?? '')?.[1];
    if (cmd === 'python3' && name && out[name] !== undefined) return ok(`${out[name]}\n`);
    return { code: 127, stdout: '', stderr: `spawn ${cmd} ENOENT\n` };
  }) as CheckExec & { calls: Call[] };
  exec.calls = calls;
  return exec;
}

/** A sampler that "recorded" the H200's real sampler output. */
async function recordedSampler(): Promise<ThermalSample[]> {
  return (await fixture('h200-sampler.csv'))
    .split('\n')
    .map((l) => parseSampleLine(l, SAMPLER_FIELDS))
    .filter((s): s is ThermalSample => !!s);
}

function hfArtifact(repo: string, commit: string, path: string, home?: string): Locked {
  return {
    kind: 'hf',
    id: `hf:${repo}@${commit}/${path}`,
    name: `${repo}/${path}`,
    version: commit,
    digest: `sha256:${'0'.repeat(64)}`,
    size: 1,
    url: 'file:///x',
    purl: `pkg:huggingface/${repo}@${commit}`,
    provenance: { kind: 'manifest-pin', manifest: 'm.yaml' },
    meta: { repo, type: 'model', commit, revision: 'main', path, gitOid: 'x', etag: 'x', ...(home ? { home } : {}) },
  };
}

async function bundleWithModels(dir: string): Promise<string> {
  const b = join(dir, 'bundle');
  await mkdir(b, { recursive: true });
  const artifacts: Locked[] = [
    hfArtifact('vault-ai/tiny-opt', '4c20eec6a55c92915b15f97d078b4803f960dafe', 'config.json', '/models'),
    hfArtifact('vault-ai/tiny-gpt2', '916f4e6eb4924c262a8fdc3b77fd88519ba22f4c', 'config.json', '/models'),
    hfArtifact('vault-ai/tiny-gpt2', '916f4e6eb4924c262a8fdc3b77fd88519ba22f4c', 'model.safetensors', '/models'),
    { ...hfArtifact('acme/data', 'c'.repeat(40), 'train.csv'), meta: { ...hfArtifact('acme/data', 'c'.repeat(40), 'x').meta, type: 'dataset' } },
    { ...hfArtifact('x/y', 'd'.repeat(40), 'a'), kind: 'apt', name: 'nvidia-driver-580-open', meta: {} },
  ];
  await writeFile(join(b, 'bundle.json'), JSON.stringify({ schema: 'vault-bundle/v1', name: 'demo', version: '1.0.0', artifacts }));
  return b;
}

const ctxFor = (exec: CheckExec, options: CheckCtx['options'] = {}): CheckCtx => ({
  exec,
  env: {},
  options,
  state: { models: [] },
  workDir: '/tmp',
  outDir: '/tmp',
  rawDir: '/nonexistent/raw',
  signal: new AbortController().signal,
  log: () => {},
  report: () => {},
});

describe('gpu.inventory', () => {
  it('FAILS on this machine (no nvidia-smi) with a reason that says so', async () => {
    const r = await gpuInventory.run(ctxFor(runProcess));
    expect(r.status).toBe('fail');
    expect(r.reason).toBe('nvidia-smi not found: no NVIDIA driver is installed on this box (or it is not on PATH)');
    expect(r.metrics).toEqual({ gpu_count: 0 });
  });

  it('fails when the driver is not loaded, or when nvidia-smi lists no GPU', async () => {
    const broken: CheckExec = async () => ({
      code: 9,
      stdout:
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
      stderr: '',
    });
    expect((await gpuInventory.run(ctxFor(broken))).reason).toBe(
      "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    );
    const none: CheckExec = async () =>
      ok('<?xml version="1.0" ?>\n<nvidia_smi_log><driver_version>580.159.04</driver_version><attached_gpus>0</attached_gpus></nvidia_smi_log>');
    expect(await gpuInventory.run(ctxFor(none))).toMatchObject({ status: 'fail', reason: 'nvidia-smi found no GPU' });
  });

  it('passes on the recorded H200 and checks count, model and driver branch', async () => {
    const exec = await h200Box();
    const good = await gpuInventory.run(ctxFor(exec, { expect: { count: 1, model: 'h200', driverBranch: '580' } }));
    expect(good).toMatchObject({
      status: 'pass',
      reason: '1 × NVIDIA H200, driver 580.159.04, CUDA 13.0',
      versions: { gpu_model: 'NVIDIA H200', gpu_count: '1', driver: '580.159.04', driver_branch: '580', cuda: '13.0' },
      metrics: { gpu_count: 1, gpu0_memory_mib: 143771 },
    });
    const bad = await gpuInventory.run(ctxFor(exec, { expect: { count: 4, model: 'RTX 5090', driverBranch: '575' } }));
    expect(bad.status).toBe('fail');
    expect(bad.reason).toBe(
      '1 GPU(s) found, 4 expected; expected RTX 5090, found GPU 0: NVIDIA H200; driver 580.159.04 is not of the 575 branch the bundle expects',
    );
  });
});

describe('bundle facts', () => {
  it('models (not datasets) by repo and commit, with their HF_HOME; the driver branch from apt names', async () => {
    const idx = JSON.parse(await readFile(await bundleWithModels(await tempDir()).then((b) => join(b, 'bundle.json')), 'utf8')) as { artifacts: Locked[] };
    expect(modelsFromArtifacts(idx.artifacts, { VAULT_HF_HOME: '/elsewhere' })).toEqual([
      { repo: 'vault-ai/tiny-gpt2', commit: '916f4e6eb4924c262a8fdc3b77fd88519ba22f4c', home: '/models', files: ['config.json', 'model.safetensors'] },
      { repo: 'vault-ai/tiny-opt', commit: '4c20eec6a55c92915b15f97d078b4803f960dafe', home: '/models', files: ['config.json'] },
    ]);
    expect(expectationsFromArtifacts(idx.artifacts)).toEqual({ driverBranch: '580' });
    expect(modelsFromArtifacts([hfArtifact('a/b', 'e'.repeat(40), 'x')], {})[0]!.home).toBe('/opt/vault-ai/models');
  });
});

describe('smoke command', () => {
  it('on this machine: inventory fails, everything else is skipped, the results folder is written, exit code 1', async () => {
    const dir = await tempDir();
    const run = await runSmoke({ out: join(dir, 'res'), report: () => {} });
    expect(run.exitCode).toBe(1);
    expect(run.results[0]).toMatchObject({ id: 'gpu.inventory', status: 'fail' });
    expect(run.results.slice(1).every((r) => r.status === 'skip' && /^needs /.test(r.reason!))).toBe(true);
    expect((await readdir(join(dir, 'res'))).sort()).toEqual(['junit.xml', 'raw', 'results.json', 'smoke.log', 'summary.txt']);
    const report = JSON.parse(await readFile(join(dir, 'res', 'results.json'), 'utf8')) as SmokeReport;
    expect(report).toMatchObject({ schema: 'vault-bundle/smoke-results/v1', ok: false, summary: { total: 12, fail: 1, skip: 11 }, env: OFFLINE_ENV });
    expect(report.network.interfaces).toContain('lo');
    expect(parseXml(await readFile(join(dir, 'res', 'junit.xml'), 'utf8')).attrs.failures).toBe('1');
  });

  it('on the recorded H200 box: every check passes with its real figures, probes run offline, files written, baseline saved and compared', async () => {
    const dir = await tempDir();
    const exec = await h200Box();
    const samples = await recordedSampler();
    const sampler = async () => ({ stop: async () => ({ samples, raw: 'raw' }) });
    const bundle = await bundleWithModels(dir);
    const run = await runSmoke({
      bundle,
      out: join(dir, 'res'),
      exec,
      sampler,
      report: () => {},
      options: { expect: { count: 1 } },
      saveBaseline: join(dir, 'base.json'),
    });
    expect(run.results.map((r) => [r.id, r.status])).toEqual([
      ['gpu.inventory', 'pass'],
      ['python.env', 'pass'],
      ['gpu.matmul', 'pass'],
      ['gpu.membw', 'pass'],
      ['gpu.h2d', 'pass'],
      ['nccl.allreduce', 'skip'],
      ['models.load', 'pass'],
      ['inference.transformers', 'pass'],
      ['inference.vllm', 'skip'],
      ['gpu.thermal', 'pass'],
      ['gpu.pcie', 'pass'],
      ['gpu.ecc-xid', 'pass'],
    ]);
    const by = Object.fromEntries(run.results.map((r) => [r.id, r]));
    expect(by['gpu.matmul']!.metrics).toEqual({ gpu0_tflops: 795.5, gpu0_sustained_tflops: 660.8, min_tflops: 795.5 });
    // No baseline yet: judged against the datasheet (989 dense BF16) with the floor argued in gpu-datasheets.ts.
    expect(by['gpu.matmul']!.thresholds).toMatchObject({ min_tflops: 692.3, reference: '0.7 × 989 dense BF16 TFLOP/s (H200 SXM 141GB datasheet)' });
    expect(by['gpu.membw']!.thresholds).toMatchObject({ min_gbps: 3840, reference: '0.8 × 4800 GB/s rated memory bandwidth (H200 SXM 141GB datasheet)' });
    expect(by['gpu.membw']!.metrics).toEqual({ gpu0_gbps: 4283 });
    expect(by['gpu.h2d']!.metrics).toEqual({ gpu0_h2d_gbps: 55.5, gpu0_d2h_gbps: 55.4 });
    expect(by['gpu.h2d']!.thresholds).toMatchObject({ gpu0_min_gbps: 40, gpu0_link: 'Gen5 x16' });
    expect(by['nccl.allreduce']!.reason).toBe('needs 2 GPUs');
    expect(by['inference.vllm']!.reason).toBe('vLLM not installed');
    expect(by['inference.transformers']!.metrics).toEqual({ gpu0_tok_s: 478.9 });
    expect(by['gpu.thermal']!.metrics).toMatchObject({ samples: samples.length, gpu0_max_temp_c: 63 });
    expect(by['gpu.ecc-xid']!.metrics).toMatchObject({ xid_new: 0, gpu0_ecc_volatile_uncorrectable: 0 });
    expect(run.exitCode).toBe(0);
    expect(run.report.box).toMatchObject({ gpu_model: 'NVIDIA H200', driver: '580.159.04', torch: '2.11.0+cu130', vllm: 'none', transformers: '5.17.0' });
    // Every probe ran with the offline switches; the model probes with the bundle's HF_HOME.
    const probes = exec.calls.filter((c) => c.cmd === 'python3');
    const names = probes.map((c) => /([\w-]+)\.py$/.exec(c.args[0]!)![1]);
    expect(names.slice(0, 7)).toEqual(['env', 'matmul', 'membw', 'h2d', 'models-0', 'generate', 'vllm-offline']);
    // --save-baseline: two repeats of the checks with metrics (and their needs), nothing else.
    const repeat = names.slice(7, 7 + (names.length - 7) / 2);
    expect(repeat).toEqual(expect.arrayContaining(['env', 'matmul', 'membw', 'h2d', 'generate']));
    expect(names.slice(7)).toEqual([...repeat, ...repeat]);
    for (const c of probes) expect(c.env).toMatchObject(OFFLINE_ENV);
    expect(probes.find((c) => c.args[0]!.endsWith('models-0.py'))!.env!.HF_HOME).toBe('/models');
    expect(probes.find((c) => c.args[0]!.endsWith('vllm-offline.py'))!.args).toContain(
      '/models/hub/models--vault-ai--tiny-gpt2/snapshots/916f4e6eb4924c262a8fdc3b77fd88519ba22f4c',
    );
    expect(run.files).toEqual(['results.json', 'junit.xml', 'summary.txt', 'smoke.log', 'thermal.csv', 'thermal.svg']);
    expect((await readFile(join(dir, 'res', 'thermal.svg'), 'utf8')).startsWith('<svg')).toBe(true);
    expect((await readdir(join(dir, 'res', 'raw'))).sort()).toEqual([
      'env.log',
      'generate.log',
      'h2d.log',
      'matmul.log',
      'membw.log',
      'models-0.log',
      'nvidia-smi-q.xml',
      'repeat-2',
      'repeat-3',
      'thermal-raw.csv',
      'vllm-offline.log',
    ]);
    expect(run.summary.trim().split('\n').at(-1)).toBe('OK: 10 passed, 0 failed, 2 skipped, 0 errors');

    // --save-baseline measured each metric 3 times (the recorded probes repeat exactly: spread 0, gated).
    const saved = JSON.parse(await readFile(join(dir, 'base.json'), 'utf8')) as { metrics: Record<string, { repeats: number; spread: number }> };
    expect(saved.metrics['gpu.matmul/gpu0_tflops']).toMatchObject({ value: 795.5, repeats: 3, spread: 0 });
    // The same box 12 % slower at matmul (still above the datasheet floor): baseline.compare fails and names the metric.
    const slow = (await recordedProbe('matmul')).replace('"tflops": 795.5051688633996', '"tflops": 700.0');
    const again = await runSmoke({
      bundle,
      out: join(dir, 'res2'),
      only: ['gpu.matmul'],
      exec: await h200Box({ matmul: slow }),
      sampler: false,
      report: () => {},
      baseline: join(dir, 'base.json'),
    });
    expect(again.results.map((r) => [r.id, r.status])).toEqual([
      ['gpu.inventory', 'pass'],
      ['python.env', 'pass'],
      ['gpu.matmul', 'pass'],
      ['baseline.compare', 'fail'],
    ]);
    expect(again.results.at(-1)!.reason).toBe(
      'gpu.matmul/gpu0_tflops 700 vs 795.5 (×0.88, tolerance 10 %); gpu.matmul/min_tflops 700 vs 795.5 (×0.88, tolerance 10 %)',
    );
    expect(again.exitCode).toBe(1);
    expect(again.report.baseline).toMatchObject({ comparable: true, file: join(dir, 'base.json') });
  });

  it('a failed probe fails its check with the reason; the box facts still land in results.json', async () => {
    const dir = await tempDir();
    const exec = await h200Box({ matmul: '{"error": "RuntimeError: CUDA error: an illegal memory access was encountered"}', membw: 'garbage, no JSON' });
    const run = await runSmoke({
      out: join(dir, 'r'),
      only: ['gpu.matmul', 'gpu.membw'],
      exec,
      sampler: false,
      report: () => {},
      saveBaseline: join(dir, 'b.json'),
    });
    const by = Object.fromEntries(run.results.map((r) => [r.id, r]));
    expect(by['gpu.matmul']).toMatchObject({ status: 'fail', reason: 'matmul probe: RuntimeError: CUDA error: an illegal memory access was encountered' });
    expect(by['gpu.membw']).toMatchObject({ status: 'error', reason: 'membw probe gave no result: it printed no JSON line' });
    expect(run.savedBaseline).toBeUndefined();
    expect(run.exitCode).toBe(1);
  });

  it('refuses an unreadable bundle and unknown --only names as usage errors', async () => {
    const dir = await tempDir();
    await expect(runSmoke({ bundle: join(dir, 'nope'), out: join(dir, 'r'), report: () => {} })).rejects.toMatchObject({ code: 'NOT_A_BUNDLE' });
    await expect(runSmoke({ out: join(dir, 'r'), only: ['gpu.warp-drive'], report: () => {} })).rejects.toMatchObject({ code: 'BAD_FLAG' });
  });
});
