import { readFile } from 'node:fs/promises';
import type { Exec } from '../util/exec.js';
import { type BoxProbe, absentFact } from '../box/probe.js';

export const GPU_QUERY = ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'];

/** `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader`: one GPU a line. */
export function parseGpuQuery(csv: string): Extract<BoxProbe['gpus'], { present: true }>['devices'] {
  return csv
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const cells = line.split(',').map((c) => c.trim());
      // A name could hold a comma; the last two cells are always driver and memory.
      const memory = cells.pop() ?? '';
      const driverVersion = cells.pop() ?? '';
      const mib = /^([0-9.]+)\s*MiB$/i.exec(memory)?.[1];
      return { name: cells.join(', '), driverVersion, ...(mib ? { memoryMiB: Number(mib) } : {}) };
    });
}

/** The CUDA version the driver supports, from the banner of plain `nvidia-smi` ("CUDA Version: 13.0"). */
export function parseCudaBanner(text: string): string | undefined {
  return /CUDA Version:\s*([0-9][0-9.]*)/.exec(text)?.[1];
}

function firstLine(s: string): string {
  return (
    s
      .trim()
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? ''
  );
}

const NVSMI_TIMEOUT_MS = 30_000;

export async function gpuFact(exec: Exec): Promise<BoxProbe['gpus']> {
  // A wedged driver can hang nvidia-smi for minutes; the probe reports that instead of waiting.
  const q = await exec('nvidia-smi', GPU_QUERY, { timeoutMs: NVSMI_TIMEOUT_MS });
  if (q.code === 124) return absentFact(`nvidia-smi did not answer within ${NVSMI_TIMEOUT_MS / 1000} s (a hung driver?)`);
  if (q.code === 127) return absentFact('nvidia-smi not found (no NVIDIA driver installed)');
  if (q.code !== 0) return absentFact(`nvidia-smi failed (exit ${q.code}): ${firstLine(q.stdout) || firstLine(q.stderr)}`);
  const devices = parseGpuQuery(q.stdout);
  const banner = await exec('nvidia-smi', [], { timeoutMs: NVSMI_TIMEOUT_MS });
  const cudaDriver = banner.code === 0 ? parseCudaBanner(banner.stdout) : undefined;
  return { present: true, devices, ...(cudaDriver ? { cudaDriver } : {}) };
}

/** The CUDA toolkit's version.json (`{"cuda": {"version": "12.4.1"}}`), written by every toolkit since 11.1. */
export async function cudaFact(path: string): Promise<BoxProbe['cuda']> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return absentFact(`no ${path} (no CUDA toolkit installed there)`);
  }
  try {
    const v = (JSON.parse(text) as { cuda?: { version?: unknown } }).cuda?.version;
    if (typeof v === 'string' && v) return { present: true, path, version: v };
  } catch {
    // fall through
  }
  return absentFact(`${path} has no cuda.version`);
}
