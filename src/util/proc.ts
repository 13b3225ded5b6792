import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Sends `sig` to a child process, only if it started and has not ended; whether it was sent. Never call
 * ChildProcess.kill() directly: on Node 20, for a child whose spawn failed (a missing or unexecutable command: pid
 * undefined, its 'error' event not yet emitted) it passes kill(2) a pid it never set, often 0, and the signal
 * goes to our whole process group. A stopped sampler of a missing nvidia-smi killed the test run, and CI with it.
 */
export function signalChild(child: ChildProcess, sig: NodeJS.Signals): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  return child.kill(sig);
}

/**
 * Who made a temp file: the process id and the process's start time (field 22 of /proc/<pid>/stat, clock
 * ticks since boot). Together they name one process for as long as the machine runs: a pid is reused, a pid
 * with the same start time is not. Every temp name of ours carries `vbtmp-<pid>-<start>-`, so a later run can
 * tell a leftover of a killed process (remove it) from the work of a live one (never touch it).
 */
export const TEMP_TAG = 'vbtmp';

/** Start time of `pid` as /proc gives it; undefined when the process does not exist (or there is no /proc). */
export function processStartTime(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Field 2 (comm) is in parentheses and may hold spaces or ')': the fields after the last ')' start at 3.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = rest[22 - 3];
  return start && /^\d+$/.test(start) ? start : undefined;
}

let own: string | undefined;

/** This process's stamp, `<pid>-<start>` (start 0 where /proc is not mounted). */
export function processStamp(): string {
  own ??= `${process.pid}-${processStartTime(process.pid) ?? '0'}`;
  return own;
}

/** `vbtmp-<pid>-<start>-`: what every temp name of this process holds. */
export function tempTag(): string {
  return `${TEMP_TAG}-${processStamp()}-`;
}

const STAMPED = new RegExp(`${TEMP_TAG}-(\\d+)-(\\d+)-`);

/**
 * For a temp name of ours: whether the process that made it is gone (so the name is a leftover). A name
 * without a stamp, or one whose maker cannot be judged, is never called dead.
 */
export function madeByDeadProcess(name: string): boolean {
  const m = STAMPED.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  const start = processStartTime(pid);
  if (start !== undefined) return m[2] !== '0' && start !== m[2]; // alive, unless the pid was reused since
  if (processStartTime(process.pid) !== undefined) return true; // /proc works and has no such process
  // No /proc here: ask the kernel whether that pid exists at all.
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
