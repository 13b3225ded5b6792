/** What every benchmark script prints and records: one row per metric, and small helpers. */
import { execFileSync } from 'node:child_process';

export interface Metric {
  metric: string;
  value: number | undefined;
  unit: string;
  display: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

/** The metric table: value right-aligned, PASS/MISS against the target, ERROR where a run failed. */
export function formatTable(metrics: Metric[]): string {
  const rows = metrics.map((x) => [
    x.metric,
    x.display,
    x.target ?? '',
    x.pass === undefined ? (x.display === 'ERROR' ? 'ERROR' : '') : x.pass ? 'PASS' : 'MISS',
    x.note ?? '',
  ]);
  const head = ['metric', 'value', 'target', 'status', 'note'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 1 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return `\n${line(head)}\n${w.map((n) => '-'.repeat(n)).join('  ')}\n${rows.map(line).join('\n')}\n\n`;
}

/** A tool's output for the results file (versions, git state), or undefined when it is missing or fails. */
export function tryExec(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
