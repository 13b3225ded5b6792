// Waves of part jobs on one fetch thread, in a process of its own (test/ranged-threads.test.ts): JOBS parts of 1 MiB
// at once, all awaited before the next wave (as parts paced alike end together), WAVES times.
// Args: <url of a file of at least JOBS MiB> <partial file of that size> <waves> <jobs>. Prints "rss <MiB>" after each wave.
import { PartThreads } from '../../src/fetch/part-threads.js';

const [url, path, waves, jobs] = process.argv.slice(2) as [string, string, string, string];
const pool = new PartThreads(1, true);
const signal = new AbortController().signal;
for (let w = 0; w < Number(waves); w++) {
  const ends = await Promise.all(
    Array.from({ length: Number(jobs) }, (_, i) => pool.fetch({ url, headers: {}, path, from: i << 20, end: (i + 1) << 20 }, () => undefined, signal)),
  );
  if (ends.some((r) => r.end !== 'done')) throw new Error(`a part ended ${JSON.stringify(ends.find((r) => r.end !== 'done'))}`);
  process.stdout.write(`rss ${(process.memoryUsage().rss / 1048576).toFixed(1)}\n`);
}
await pool.close();
