import type { Worker } from 'node:worker_threads';
import { type Digest, digestOf } from '../store/digest.js';
import { localWriteError } from '../util/errors.js';
import { type HashResult, hashTuning, startHashWorker } from '../util/hash-worker.js';
import { POOL_MIN_BYTES, hashHere, interrupted, wholeFile } from './hashpool.js';

/**
 * Worker threads shared by many whole-file hashes that come one at a time from concurrent callers (a build's
 * copies out of the cache, its ranged downloads' whole-file hashes): a worker starts only when a big file comes
 * and every running one is busy, at most `max`, and each then takes the next file instead of a fresh thread per
 * file. A worker's start-up is ~50 ms of CPU; nvidia-debian12's cold build started one for each of its 9 blobs
 * over 64 MiB (bench/results/2026-12-06-apt-cpu-s7-dev.md). Files under POOL_MIN_BYTES are hashed on the
 * calling thread.
 */
export class FileHashers {
  private readonly idle: Worker[] = [];
  private readonly running = new Set<Worker>();
  private readonly queue: ((w: Worker | undefined) => void)[] = [];
  private readonly tuning = hashTuning();
  private closed = false;

  constructor(private readonly max: number) {}

  /** The digest of the file's first `size` bytes (all of them); a shorter or unreadable file: a local error naming it. */
  async hash(path: string, size: number, signal: AbortSignal): Promise<Digest> {
    let r: HashResult | undefined;
    if (size < POOL_MIN_BYTES) [r] = await hashHere([wholeFile(path, size)], { signal });
    else {
      const w = await this.take();
      if (!w) throw interrupted();
      try {
        r = await run(w, path, size, signal);
      } catch (err) {
        this.drop(w);
        throw err;
      }
      this.give(w);
    }
    if (!r || r.error) throw localWriteError(new Error(r?.error ?? 'no result'), path);
    return digestOf(r.hex);
  }

  /** Stops every worker; hashes still waiting for one are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const next of this.queue.splice(0)) next(undefined);
    const all = [...this.running, ...this.idle.splice(0)];
    this.running.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private take(): Promise<Worker | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const w = this.idle.pop() ?? (this.running.size < this.max ? this.start() : undefined);
    if (w) {
      this.running.add(w);
      return Promise.resolve(w);
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  private give(w: Worker): void {
    const next = this.queue.shift();
    if (next) return next(w); // stays running, now for the next file
    this.running.delete(w);
    this.idle.push(w);
  }

  /** A worker that failed or was stopped mid-file is not reused; one waiting for a worker gets a fresh one. */
  private drop(w: Worker): void {
    this.running.delete(w);
    void w.terminate();
    const next = this.queue.shift();
    if (!next) return;
    if (this.closed) return next(undefined);
    const fresh = this.start();
    this.running.add(fresh);
    next(fresh);
  }

  private start(): Worker {
    return startHashWorker(this.tuning);
  }
}

/** One file on worker `w`; an abort (Ctrl-C) rejects at once with InterruptedError (the caller drops the worker). */
function run(w: Worker, path: string, size: number, signal: AbortSignal): Promise<HashResult> {
  if (signal.aborted) return Promise.reject(interrupted());
  return new Promise<HashResult>((resolve, reject) => {
    const stop = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      signal.removeEventListener('abort', onAbort);
    };
    const onMessage = (m: HashResult & { id: number; tick?: number }) => {
      if (m.tick !== undefined) return;
      stop();
      resolve({ hex: m.hex, read: m.read, ...(m.error ? { error: m.error } : {}) });
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onExit = (code: number) => {
      stop();
      reject(signal.aborted ? interrupted() : new Error(`a hashing thread exited (code ${code})`));
    };
    const onAbort = () => {
      stop();
      reject(interrupted());
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    signal.addEventListener('abort', onAbort, { once: true });
    w.postMessage({ id: 0, segments: wholeFile(path, size).segments, tick: false });
  });
}
