/**
 * Parser for nccl-tests text output (all_reduce_perf, all_gather_perf, …; src/util.cu). Data rows have 13
 * fields: size count type redop root, then time algbw busbw #wrong out-of-place and the same in-place;
 * `-S` appends a timestamp. "#wrong" is a number or N/A (with -c 0).
 */
export interface NcclHalf {
  timeUs: number;
  algbw: number;
  busbw: number;
  /** Wrong elements; undefined when the run did not check (-c 0 prints N/A). */
  wrong?: number;
}

export interface NcclRow {
  size: number;
  count: number;
  type: string;
  redop: string;
  root: number;
  outOfPlace: NcclHalf;
  inPlace: NcclHalf;
}

export interface NcclTestsRun {
  version?: string;
  collective?: string;
  nThread?: number;
  nGpus?: number;
  devices: { rank: number; device: number; busId: string; name: string }[];
  rows: NcclRow[];
  outOfBounds?: { count: number; ok: boolean };
  avgBusbw?: number;
  /** The footer said FAILED, or a "Test failure" line was printed. */
  failed: boolean;
  failures: string[];
  /** Rows that looked like data but did not parse. */
  unparsed: string[];
}

const n = (s: string | undefined): number => (s === undefined ? NaN : Number(s));

function half(f: string[]): NcclHalf | undefined {
  const [t, a, b, w] = f;
  const h: NcclHalf = { timeUs: n(t), algbw: n(a), busbw: n(b) };
  if (![h.timeUs, h.algbw, h.busbw].every(Number.isFinite)) return undefined;
  if (w !== 'N/A') {
    const wrong = n(w);
    if (!Number.isFinite(wrong)) return undefined;
    h.wrong = wrong;
  }
  return h;
}

/** Parses one nccl-tests output; several concatenated runs give several entries. */
export function parseNcclTests(text: string): NcclTestsRun[] {
  const runs: NcclTestsRun[] = [];
  let cur: NcclTestsRun | undefined;
  const fresh = (): NcclTestsRun => ({ devices: [], rows: [], failed: false, failures: [], unparsed: [] });
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    let m: RegExpExecArray | null;
    if ((m = /^# nccl-tests version (\S+)/.exec(line))) {
      cur = fresh();
      cur.version = m[1];
      runs.push(cur);
      continue;
    }
    cur ??= (runs.push(fresh()), runs[runs.length - 1]!);
    if ((m = /^# Collective test starting: (\S+)/.exec(line))) cur.collective = m[1];
    else if ((m = /^# nThread (\d+) nGpus (\d+)/.exec(line))) {
      cur.nThread = Number(m[1]);
      cur.nGpus = Number(m[2]);
    } else if ((m = /^#\s+Rank\s+(\d+)\s+Group\s+\d+\s+Pid\s+\d+\s+on\s+\S+\s+device\s+(\d+)\s+\[([^\]]+)\]\s+(.*)$/.exec(line))) {
      cur.devices.push({ rank: Number(m[1]), device: Number(m[2]), busId: m[3]!, name: m[4]!.trim() });
    } else if ((m = /^# Out of bounds values : (\d+) (\S+)/.exec(line))) cur.outOfBounds = { count: Number(m[1]), ok: m[2] === 'OK' };
    else if ((m = /^# Avg bus bandwidth\s*: ([\d.eE+-]+)\s*(\S*)/.exec(line))) {
      cur.avgBusbw = Number(m[1]);
      if (m[2] === 'FAILED') cur.failed = true;
    } else if (/Test failure|^# .*FAILED/.test(line)) {
      cur.failed = true;
      cur.failures.push(line);
    } else if (/^rank=\d+ #wrong=\d+/.test(line)) cur.failures.push(line);
    else if (/^\d/.test(line)) {
      const f = line.split(/\s+/);
      const row = f.length === 13 || f.length === 14 ? toRow(f) : undefined;
      if (row) cur.rows.push(row);
      else cur.unparsed.push(line);
    }
  }
  // A failure line printed after the footer (" .. vm pid 1389: Test failure common.cu:1454") belongs to the last run.
  return runs.filter((r) => r.version || r.rows.length || r.failures.length);
}

function toRow(f: string[]): NcclRow | undefined {
  const o = half(f.slice(5, 9));
  const i = half(f.slice(9, 13));
  if (!o || !i) return undefined;
  return { size: n(f[0]), count: n(f[1]), type: f[2]!, redop: f[3]!, root: n(f[4]), outOfPlace: o, inPlace: i };
}

/** Busbw at the largest size (the better of in- and out-of-place): what to gate on, not the Avg line. */
export function peakBusbw(run: NcclTestsRun): { size: number; busbw: number } | undefined {
  const last = run.rows.reduce<NcclRow | undefined>((a, r) => (!a || r.size >= a.size ? r : a), undefined);
  return last ? { size: last.size, busbw: Math.max(last.outOfPlace.busbw, last.inPlace.busbw) } : undefined;
}

/** Total wrong elements over every row (undefined when nothing was checked). */
export function wrongElements(run: NcclTestsRun): number | undefined {
  const all = run.rows.flatMap((r) => [r.outOfPlace.wrong, r.inPlace.wrong]).filter((w): w is number => w !== undefined);
  return all.length ? all.reduce((a, b) => a + b, 0) : undefined;
}
