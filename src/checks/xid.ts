import type { CheckExec } from './proc.js';

/** An NVIDIA Xid line from the kernel log: `NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: …`. */
export interface XidEvent {
  bus: string;
  code: number;
  message: string;
  line: string;
}

export type XidSnapshot = { readable: true; source: string; events: XidEvent[] } | { readable: false; reason: string };

/** Codes that mean the hardware needs attention (xid catalog); others (13, 31, 43) are usually applications. */
export const SERIOUS_XIDS: ReadonlySet<number> = new Set([48, 61, 62, 63, 64, 74, 79, 92, 94, 95, 119, 120, 140]);

export function parseXids(log: string): XidEvent[] {
  const out: XidEvent[] = [];
  for (const line of log.split('\n')) {
    const m = /NVRM: Xid \(PCI:([^)]+)\): (\d+),\s*(.*)$/.exec(line);
    if (m) out.push({ bus: m[1]!, code: Number(m[2]), message: m[3]!.trim(), line: line.trim() });
  }
  return out;
}

/** Reads the kernel log with dmesg, else journalctl -k; says why when neither can (dmesg_restrict, no root). */
export async function readKernelXids(exec: CheckExec, o: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<XidSnapshot> {
  const tries: [string, string[]][] = [
    ['dmesg', []],
    ['journalctl', ['-k', '-b', '--no-pager', '-q', '-o', 'short-monotonic']],
  ];
  const why: string[] = [];
  for (const [cmd, args] of tries) {
    const r = await exec(cmd, args, { ...o, timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.trim()) return { readable: true, source: [cmd, ...args].join(' '), events: parseXids(r.stdout) };
    const msg = r.code === 127 ? 'not installed' : (r.stderr.trim().split('\n')[0] ?? '') || (r.code === 0 ? 'empty output' : `exit ${r.code}`);
    why.push(`${cmd}: ${msg}`);
  }
  return { readable: false, reason: why.join('; ') };
}
