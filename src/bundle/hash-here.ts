/**
 * Hashing on the calling thread, and the jobs every hasher takes: for a few megabytes, cheaper than any worker
 * start-up; the pool's main thread hashes its share with it too.
 */
import { createHash } from 'node:crypto';
import { InterruptedError } from '../util/errors.js';
import { type HashResult, type Segment, hashJob, hashTuning } from '../util/hash-worker.js';

/**
 * The bytes of one bundle file: usually one segment (a whole file, or a member of a tar); a member of a
 * split tar that crosses a part boundary has one segment per part it touches.
 */
export interface HashJob {
  segments: readonly Segment[];
  /** Total bytes: the sum of the segments' lengths. */
  length: number;
  /** A whole file as listed: its identity and times then (util/early-hash.ts's fileStamp), for early digests. */
  stamp?: string;
}

export function wholeFile(file: string, length: number): HashJob {
  return { segments: [{ file, offset: 0, length }], length };
}

/** The one error of an interrupted hashing: nothing was written, so a rerun simply checks again. */
export function interrupted(): InterruptedError {
  return new InterruptedError('nothing was changed; run the same command again to check the whole bundle');
}

/** A main-thread slice: between two of them, Ctrl-C (the abort signal) gets its turn on the event loop. */
const SLICE_BYTES = 8 << 20;

/**
 * The same hashing on the calling thread: for a few megabytes, cheaper than any worker start-up. It yields to
 * the event loop between 8 MiB slices of a file and, every 10 ms, between files, so an abort stops it within
 * one slice.
 */
export async function hashHere(
  jobs: readonly HashJob[],
  o: { chunkBytes?: number; buf?: Buffer; sliceBytes?: number; signal?: AbortSignal } & Progress = {},
): Promise<HashResult[]> {
  const buf = o.buf ?? Buffer.allocUnsafe(o.chunkBytes ?? hashTuning().readBytes);
  const slice = o.sliceBytes ?? SLICE_BYTES;
  const out: HashResult[] = [];
  let since = performance.now();
  const breathe = async (now = false) => {
    if (now || performance.now() - since > 10) {
      await new Promise((r) => setImmediate(r));
      since = performance.now();
    }
    if (o.signal?.aborted) throw interrupted();
  };
  for (const job of jobs) {
    await breathe();
    if (job.length <= slice) {
      out.push(hashJob(job.segments, buf));
      o.onDone?.(job, out.at(-1)!);
      continue;
    }
    const h = createHash('sha256');
    let read = 0;
    let error: string | undefined;
    for (const part of slices(job.segments, slice)) {
      const r = hashJob(part.segments, buf, h);
      read += r.read;
      if (r.error) error = r.error;
      if (r.error || r.read < part.length) break; // a short file: the digest of what is there, as a worker gives
      o.onBytes?.(job, read);
      await breathe(true);
    }
    out.push(error ? { hex: '', read, error } : { hex: h.digest('hex'), read });
    o.onDone?.(job, out.at(-1)!);
  }
  return out;
}

/** Segments cut into consecutive slices of at most `max` bytes. */
function* slices(segments: readonly Segment[], max: number): Generator<{ segments: Segment[]; length: number }> {
  let cur: Segment[] = [];
  let len = 0;
  for (const seg of segments) {
    let off = seg.offset;
    let left = seg.length;
    while (left > 0) {
      const n = Math.min(left, max - len);
      cur.push({ file: seg.file, offset: off, length: n });
      len += n;
      off += n;
      left -= n;
      if (len === max) {
        yield { segments: cur, length: len };
        cur = [];
        len = 0;
      }
    }
  }
  if (len > 0) yield { segments: cur, length: len };
}

/** Progress callbacks: each job as it is done (in the order they finish), and a big job's bytes so far on the calling thread. */
export interface Progress {
  onDone?: (job: HashJob, r: HashResult) => void;
  onBytes?: (job: HashJob, read: number) => void;
}
