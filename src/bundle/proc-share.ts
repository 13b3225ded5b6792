import { resolve } from 'node:path';
import { type EarlyProcs, fileStamp } from '../util/early-hash.js';
import { PROC_MIN_BYTES, type ProcJob, type ProcQueue } from '../util/hash-procs.js';
import type { HashResult } from '../util/hash-worker.js';
import { type HashJob, type Progress, interrupted } from './hash-here.js';

/** How often a progress line hears of the bytes the running processes have read. */
const POLL_MS = 250;

/** A job the processes can take: one whole file, big enough to be worth a process. */
export function forProcess(job: HashJob): boolean {
  const seg = job.segments;
  return seg.length === 1 && seg[0]!.offset === 0 && seg[0]!.length === job.length && job.length >= PROC_MIN_BYTES;
}

/**
 * The pool's side of the hashing processes (util/hash-procs.ts): big whole files go to them, largest first;
 * those boot.cjs already gave them (util/early-hash.ts) are not given again when verify's own listing shows the
 * same file with the same fileStamp. A job a process hands back is returned to the caller to hash itself.
 */
export class ProcShare {
  private early: EarlyProcs | undefined;
  /** The pool's job id of each early file it took (a progress line's bytes of a process boot.cjs started). */
  private earlyIds = new Map<string, number>();

  constructor(
    readonly queue: ProcQueue,
    early?: EarlyProcs,
  ) {
    this.early = early;
    queue.ref();
  }

  /** performance.now() when boot.cjs started the processes (undefined: started here). */
  get earlyStartedAt(): number | undefined {
    return this.early?.startedAt;
  }

  /**
   * Hashes jobs[id] for each id (all forProcess), `done` as each digest comes; resolves with the ids handed
   * back (to be hashed by the caller: its error, if any, is then the exact one).
   */
  run(
    jobs: readonly HashJob[],
    ids: readonly number[],
    done: (id: number, r: HashResult) => void,
    o: Progress & { signal?: AbortSignal } = {},
  ): Promise<number[]> {
    const back: number[] = [];
    let left = ids.length;
    if (left === 0) return Promise.resolve(back);
    return new Promise<number[]>((resolveRun, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let over = false;
      const finish = () => {
        over = true;
        if (timer) clearInterval(timer);
        o.signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        reject(interrupted());
        this.queue.close(); // hands back what runs and waits: ignored, the run is over
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (id: number, hex: string | undefined) => {
        if (over) return;
        if (hex === undefined) back.push(id);
        else done(id, { hex, read: jobs[id]!.length });
        if (--left === 0) {
          finish();
          resolveRun(back);
        }
      };
      const given = this.takeEarly(jobs, ids, settle);
      const fresh = ids.filter((id) => !given.has(id)).sort((a, b) => jobs[b]!.length - jobs[a]!.length);
      const byJob = new Map<ProcJob, number>();
      for (const id of fresh) {
        const seg = jobs[id]!.segments[0]!;
        const job: ProcJob = { file: seg.file, size: seg.length, cb: (hex) => settle(id, hex) };
        const stamp = jobs[id]!.stamp;
        if (stamp) Object.assign(job, { stamp, stampOf: fileStamp });
        byJob.set(job, id);
        this.queue.add(job);
      }
      // Not when everything settled already (early digests all in, or every job handed back at once).
      if (o.onBytes && !over) {
        const onBytes = o.onBytes;
        timer = setInterval(() => {
          for (const [job, read] of this.queue.positions()) {
            const id = byJob.get(job) ?? this.earlyIds.get(job.file);
            if (id !== undefined) onBytes(jobs[id]!, read);
          }
        }, POLL_MS);
        timer.unref();
      }
    });
  }

  /** The first run only: jobs boot.cjs's processes have (or are) hashing, their digests to `settle` as they come. */
  private takeEarly(jobs: readonly HashJob[], ids: readonly number[], settle: (id: number, hex: string | undefined) => void): Set<number> {
    const s = this.early;
    const given = new Set<number>();
    if (!s || s.claimed) return given;
    s.claimed = true;
    const early = new Map(s.jobs.map((j, k) => [`${j.stamp}:${j.file}`, k]));
    const mine = new Map<number, number>();
    for (const id of ids) {
      const job = jobs[id]!;
      const k = job.stamp ? early.get(`${job.stamp}:${resolve(job.segments[0]!.file)}`) : undefined;
      if (k !== undefined && !mine.has(k)) {
        mine.set(k, id);
        given.add(id);
      }
    }
    this.earlyIds = new Map([...mine].map(([k, id]) => [s.jobs[k]!.file, id]));
    const deliver = (k: number) => {
      const id = mine.get(k);
      const r = s.results[k];
      if (id === undefined || r === undefined) return;
      mine.delete(k);
      settle(id, r ?? undefined);
    };
    s.hooks.result = deliver;
    for (const k of [...mine.keys()]) deliver(k);
    return given;
  }

  close(): void {
    this.queue.close();
  }
}
