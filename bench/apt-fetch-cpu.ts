/**
 * Issue #14, the download part of a cold build alone: the CPU of fetching a lock's artifacts into an empty cache
 * (single streams, as a build fetches apt's debs), by HTTP client and body reading, so A/B runs can be judged on a
 * shared machine. `npx tsx bench/apt-fetch-cpu.ts <lock.json> <cacheDir> native|undici pump|iter [concurrency]`;
 * prints one JSON line: CPU seconds of the process (all threads) and of its main thread, GC counts and pauses.
 */
import { readFileSync, rmSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { fetchTallied } from '../src/fetch/download.js';
import { HttpClient } from '../src/fetch/http.js';
import { openUrl } from '../src/fetch/open.js';
import type { Digest } from '../src/store/digest.js';
import { Store } from '../src/store/store.js';
import { limits } from '../src/util/limits.js';

// V8 flags set at run time (as the CLI sets its start flags), to try one: BENCH_V8_FLAGS='--flag=value'.
if (process.env.BENCH_V8_FLAGS) setFlagsFromString(process.env.BENCH_V8_FLAGS);
const [lockPath, cacheDir, client = 'native', read = 'pump', conc = '8'] = process.argv.slice(2);
const mainCpu = () => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'latin1');
  const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(r[11]) + Number(r[12])) / 100;
};
const gc = { major: 0, minor: 0, ms: 0 };
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === perf.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
    else gc.minor++;
    gc.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

const lock = JSON.parse(readFileSync(lockPath!, 'utf8')) as { artifacts: { id: string; digest: Digest; size: number; url: string }[] };
rmSync(cacheDir!, { recursive: true, force: true });
const http = new HttpClient(limits, { native: client === 'native' });
const ac = new AbortController();
const ctx = { http, store: new Store(cacheDir!), report: () => undefined, signal: ac.signal, limits };
type It = (typeof lock.artifacts)[number];
const sourceFor = () => ({
  open: (it: It) => {
    const o = openUrl(it.url, it.size, it.id, ctx);
    if (read === 'pump') return o;
    // As before the pump: the body read with for await through one more generator.
    return async (offset: number, end?: number) => {
      const r = await o(offset, end);
      const body = r.body as AsyncIterable<Uint8Array>;
      return {
        startedAt: r.startedAt,
        body: (async function* () {
          yield* body;
        })(),
      };
    };
  },
});
const c0 = process.cpuUsage();
const m0 = mainCpu();
const t0 = performance.now();
const { tally } = await fetchTallied(lock.artifacts, ctx, { concurrency: Number(conc), streams: 1, sourceFor });
const c = process.cpuUsage(c0);
const out = {
  client,
  read,
  bytes: tally.transferredBytes,
  wallS: +((performance.now() - t0) / 1000).toFixed(2),
  cpuS: +((c.user + c.system) / 1e6).toFixed(2),
  userS: +(c.user / 1e6).toFixed(2),
  sysS: +(c.system / 1e6).toFixed(2),
  mainS: +(mainCpu() - m0).toFixed(2),
  gcMajor: gc.major,
  gcMinor: gc.minor,
  gcMs: Math.round(gc.ms),
  maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
};
process.stdout.write(`${JSON.stringify(out)}\n`);
await http.close();
