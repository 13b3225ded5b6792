import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A byte range of one file. */
export interface Segment {
  file: string;
  offset: number;
  length: number;
}

/**
 * The bytes of one bundle file: usually one segment (a whole file, or a member of a tar); a member of a
 * split tar that crosses a part boundary has one segment per part it touches.
 */
export interface HashJob {
  segments: readonly Segment[];
  /** Total bytes: the sum of the segments' lengths. */
  length: number;
}

export function wholeFile(file: string, length: number): HashJob {
  return { segments: [{ file, offset: 0, length }], length };
}

export interface HashResult {
  hex: string;
  /** Bytes actually read: less than `length` when the file is shorter. */
  read: number;
  error?: string;
}

// The worker is plain JS given as a string, so it runs the same from tsx, from dist/ and from one bundled
// script on the box. Synchronous reads into one reused buffer keep memory flat and beat streams by ~20%.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(workerData.chunk);
parentPort.on('message', ({ id, segments }) => {
  const h = createHash('sha256');
  let read = 0;
  for (const { file, offset, length } of segments) {
    let fd;
    try {
      fd = openSync(file, 'r');
      let pos = offset, left = length;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), pos);
        if (n === 0) break;
        h.update(buf.subarray(0, n));
        pos += n; left -= n; read += n;
      }
      if (left > 0) break;
    } catch (e) {
      parentPort.postMessage({ id, hex: '', read, error: String(e && e.message || e) });
      return;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  parentPort.postMessage({ id, hex: h.digest('hex'), read });
});
`;

/**
 * Hashes many byte ranges on every core. Jobs are handed out largest first, so one huge file does not end
 * up last on a single worker.
 */
export async function hashAll(
  jobs: readonly HashJob[],
  o: { threads?: number; chunkBytes?: number; onDone?: (job: HashJob, r: HashResult) => void } = {},
): Promise<HashResult[]> {
  const results: HashResult[] = new Array<HashResult>(jobs.length);
  if (jobs.length === 0) return results;
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b]!.length - jobs[a]!.length);
  const threads = Math.max(1, Math.min(o.threads ?? availableParallelism(), jobs.length));
  let next = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: threads }, () => {
        const w = new Worker(WORKER, { eval: true, workerData: { chunk: o.chunkBytes ?? 1 << 22 } });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          const feed = () => {
            if (next >= order.length) return resolve();
            const id = order[next++]!;
            const j = jobs[id]!;
            w.postMessage({ id, segments: j.segments });
          };
          w.on('message', (m: HashResult & { id: number }) => {
            results[m.id] = { hex: m.hex, read: m.read, ...(m.error ? { error: m.error } : {}) };
            o.onDone?.(jobs[m.id]!, results[m.id]!);
            feed();
          });
          w.on('error', reject);
          feed();
        });
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
