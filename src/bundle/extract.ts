import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { HashJob } from './hashpool.js';

/** A job whose bytes are a whole file as it lies on disk (a folder bundle's file): usable in place. */
export function inPlace(job: HashJob, fileSize: (file: string) => number | undefined): string | undefined {
  const [only, ...more] = job.segments;
  if (!only || more.length > 0 || only.offset !== 0) return undefined;
  return fileSize(only.file) === only.length ? only.file : undefined;
}

/** Writes the bytes of a job (a tar member, maybe across parts) to `dest`, streamed. */
export async function extractJob(job: HashJob, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const out = createWriteStream(dest, { flags: 'wx' });
  await pipeline(async function* () {
    for (const s of job.segments) {
      if (s.length === 0) continue;
      yield* createReadStream(s.file, { start: s.offset, end: s.offset + s.length - 1, highWaterMark: 1 << 20 });
    }
  }, out);
}
