/**
 * CPU of the apt licence reads alone (issue #14): readDebDoc over every .deb a build's cache has read facts for
 * (<cache>/facts/apt-copyright-1/<hex digest>-<hex name>.json names the blob and the package), two at a time as a
 * build on two cores reads them. Prints the main thread's CPU (process.cpuUsage) and the children's (utime+stime of
 * waited-for children, /proc/self/stat), and writes every DebDoc to --out as JSON (to compare two readers' facts).
 *   npx tsx bench/licence-cpu.ts --cache DIR [--list FILE] [--out docs.json] [--jobs 2] [--mode default|dpkg|full|js|noblocks]
 * (dpkg: no lean read, as before session 8; full: dpkg-deb + node-tar for every .deb, multi-block ones too)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { type DebDoc, type ReadDocOptions, readDebDoc } from '../src/sources/apt/deb-doc.js';

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

function childCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 (cutime, cstime), counted from 1 with pid and comm first: index 13 and 14 of `rest`
  return (Number(rest[13]) + Number(rest[14])) / 100;
}

const cache = arg('cache');
if (!cache) throw new Error('--cache DIR');
const mode = arg('mode', 'default')!;
const jobs = Number(arg('jobs', '2'));
// --list FILE: lines "<hex digest> <package>" instead (e.g. every multi-block .deb of the cache, read or not).
const list = arg('list');
const items = list
  ? readFileSync(list, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [hex, pkg] = l.split(' ') as [string, string];
        return { file: join(cache, 'blobs', 'sha256', hex), pkg, hex };
      })
  : readdirSync(join(cache, 'facts', 'apt-copyright-1'))
      .filter((n) => n.endsWith('.json'))
      .map((n) => {
        const [hex, name] = n.slice(0, -5).split('-') as [string, string];
        return { file: join(cache, 'blobs', 'sha256', hex), pkg: Buffer.from(name, 'hex').toString('utf8'), hex };
      });
const modes: Record<string, ReadDocOptions> = {
  js: { native: false },
  noblocks: { blocks: false },
  dpkg: { lean: false },
  full: { lean: false, blocks: false },
};
const o = modes[mode] ?? {};
const limit = pLimit(jobs);
const c0 = childCpu();
const u0 = process.cpuUsage();
const t0 = performance.now();
const docs: Record<string, DebDoc> = {};
await Promise.all(items.map((it) => limit(async () => void (docs[`${it.hex}-${it.pkg}`] = await readDebDoc(it.file, it.pkg, o)))));
const wall = (performance.now() - t0) / 1000;
const u = process.cpuUsage(u0);
const kids = childCpu() - c0;
const main = (u.user + u.system) / 1e6;
const mainSplit = { user: +(u.user / 1e6).toFixed(2), sys: +(u.system / 1e6).toFixed(2) };
const kinds: Record<string, number> = {};
for (const d of Object.values(docs)) kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
console.log(
  JSON.stringify({
    mode,
    debs: items.length,
    jobs,
    wall_s: +wall.toFixed(2),
    main_cpu_s: +main.toFixed(2),
    main: mainSplit,
    child_cpu_s: +kids.toFixed(2),
    total_cpu_s: +(main + kids).toFixed(2),
    kinds,
  }),
);
const out = arg('out');
if (out) writeFileSync(out, JSON.stringify(Object.fromEntries(Object.entries(docs).sort(([a], [b]) => (a < b ? -1 : 1))), null, 1));
