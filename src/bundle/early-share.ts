import { resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { EarlyHashing } from '../util/early-hash.js';
import type { HashResult } from '../util/hash-worker.js';
import type { HashJob } from './hash-here.js';

/**
 * The pool's side of early hashing (util/early-hash.ts): the threads boot.cjs started, taken over, and for the
 * pool's first hash() the jobs the early list covers. A job is covered only when it is one whole file, the same
 * path, with the same fileStamp (identity, size, mtime and ctime) as when it was listed early: its digest is then
 * the one a fresh hash of that job would give.
 */
export class EarlyShare {
  private claimed = false;

  constructor(private readonly s: EarlyHashing) {
    for (const w of s.workers) w.ref();
  }

  get workers(): readonly Worker[] {
    return this.s.workers;
  }

  /** performance.now() when boot.cjs started them, and when the last was up (undefined while some are not). */
  get startedAt(): number {
    return this.s.startedAt;
  }
  get upAt(): number | undefined {
    return this.s.upAt;
  }

  /** The first call only: which of `jobs` the early threads have hashed, are hashing, or leave to whoever takes them. */
  claim(jobs: readonly HashJob[]): EarlyClaim | undefined {
    if (this.claimed) return undefined;
    this.claimed = true;
    return new EarlyClaim(this.s, jobs);
  }
}

export class EarlyClaim {
  /** Early job index → the pool's job index, for the covered jobs. */
  private readonly jobOf = new Map<number, number>();
  readonly covered = new Set<number>();
  private done?: (i: number, r: HashResult) => void;
  private onBytes?: ((i: number, read: number) => void) | undefined;
  private settle?: { resolve: () => void; reject: (err: Error) => void };
  private readonly waiting = new Map<Worker, () => void>();

  constructor(
    private readonly s: EarlyHashing,
    jobs: readonly HashJob[],
  ) {
    const early = new Map(s.jobs.map((j, k) => [`${j.stamp}:${j.file}`, k]));
    jobs.forEach((job, i) => {
      const seg = job.segments;
      if (!job.stamp || seg.length !== 1 || seg[0]!.offset !== 0 || seg[0]!.length !== job.length) return;
      const k = early.get(`${job.stamp}:${resolve(seg[0]!.file)}`);
      if (k === undefined || this.jobOf.has(k)) return;
      this.jobOf.set(k, i);
      this.covered.add(i);
    });
    s.hooks = {
      result: (k) => this.deliver(k),
      tick: (k, read) => {
        const i = this.jobOf.get(k);
        if (i !== undefined) this.onBytes?.(i, read);
      },
      // A thread posts its last digest before it says it is drained: by then all it took has come back.
      drained: (w) => {
        this.waiting.get(w)?.();
        this.check();
      },
      failed: (err) => this.settle?.reject(err),
    };
  }

  /** The main thread's next covered job, taken from the same counter as the threads (undefined: none left). */
  takeHere(): number | undefined {
    for (;;) {
      const k = Atomics.add(this.s.counter, 0, 1);
      if (k >= this.s.jobs.length) return undefined;
      const i = this.jobOf.get(k);
      if (i !== undefined) return i;
    }
  }

  /**
   * The threads' digests of covered jobs, to `done` as they come (those already in first), their progress to
   * `onBytes`. Resolves once every early thread has taken its last early job and all it took has come back;
   * rejects when one dies (its job would never come back).
   */
  follow(done: (i: number, r: HashResult) => void, onBytes?: (i: number, read: number) => void): Promise<void> {
    this.done = done;
    this.onBytes = onBytes;
    this.s.results.forEach((_, k) => this.deliver(k));
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      if (this.s.failed) reject(this.s.failed);
      else this.check();
    });
  }

  /** Resolves when early thread `w` has taken its last early job (it then takes the pool's jobs, as any thread). */
  drained(w: Worker): Promise<void> {
    if (!this.s.workers.includes(w) || this.s.drained.has(w)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(w, resolve));
  }

  private deliver(k: number): void {
    const i = this.jobOf.get(k);
    const r = this.s.results[k];
    if (!this.done || !r) return;
    this.s.results[k] = undefined;
    if (i !== undefined) this.done(i, { hex: r.hex, read: r.read, ...(r.error ? { error: r.error } : {}) });
  }

  private check(): void {
    if (this.settle && this.s.drained.size >= this.s.workers.length) this.settle.resolve();
  }
}
