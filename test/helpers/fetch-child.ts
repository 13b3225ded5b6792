// A fetch in a process of its own, for tests that kill it mid-download (test/ranged-threads.test.ts).
// Args: <cache root> <url> <sha256 hex> <size>. Prints "bytes <n>" as parts are written, "done" at the end.
import { fetchRanged, lockedBig, rangedHarness } from './ranged.js';

const [root, url, hex, size] = process.argv.slice(2) as [string, string, string, string];
const { ctx } = rangedHarness(root, 0);
let bytes = 0;
ctx.report = (e) => {
  if (e.type === 'download:progress') process.stdout.write(`bytes ${(bytes += e.bytes)}\n`);
};
const item = lockedBig(url, hex, Number(size));
await fetchRanged([item], ctx);
await ctx.http.close();
process.stdout.write('done\n');
