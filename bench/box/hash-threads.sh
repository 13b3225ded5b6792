#!/bin/sh
# Where verify's 16-thread hashing loses to `xargs -P16 sha256sum` on the box (issue #14): the same files hashed by
# sha256sum processes, by node processes running verify's loop (one file each), and by one node process with N
# worker threads running that loop on jobs from a shared counter (as verify's pool does) -- with per-thread busy
# time, so a slow thread and a late tail show. FILES (default 32) files of 256 MiB, warm, ROUNDS (default 3) rounds.
# From the repository root on the box, carry: .carry (the packed runtime's node).
set -u
FILES=${FILES:-32}
ROUNDS=${ROUNDS:-3}
P=${P:-$(nproc)}
. bench/box/warm-files.sh # W (scratch), N (node), $W/d/0..FILES-1 (256 MiB each, warm)
cat >"$W/one.js" <<'JS'
const fs = require('fs'), c = require('crypto');
const b = Buffer.allocUnsafe(128 * 1024), h = c.createHash('sha256'), fd = fs.openSync(process.argv[2], 'r');
let n, p = 0;
while ((n = fs.readSync(fd, b, 0, b.length, p)) > 0) { h.update(n === b.length ? b : b.subarray(0, n)); p += n; }
console.log(h.digest('hex').slice(0, 8));
JS
cat >"$W/threads.js" <<'JS'
const { Worker } = require('worker_threads');
const fs = require('fs');
const dir = process.argv[2], n = Number(process.argv[3]);
const files = fs.readdirSync(dir).map((f) => dir + '/' + f);
const counter = new Int32Array(new SharedArrayBuffer(4));
const t0 = performance.now();
const src = `
const { workerData: { files, counter, t0 }, parentPort } = require('worker_threads');
const fs = require('fs'), c = require('crypto');
const b = Buffer.allocUnsafe(128 * 1024);
let busy = 0, done = 0, first;
for (;;) {
  const i = Atomics.add(counter, 0, 1);
  if (i >= files.length) break;
  const s = performance.now();
  if (first === undefined) first = performance.timeOrigin + s - t0;
  const h = c.createHash('sha256'), fd = fs.openSync(files[i], 'r');
  let n, p = 0;
  while ((n = fs.readSync(fd, b, 0, b.length, p)) > 0) { h.update(n === b.length ? b : b.subarray(0, n)); p += n; }
  fs.closeSync(fd); h.digest();
  busy += performance.now() - s; done++;
}
parentPort.postMessage({ first, busy, done, end: performance.timeOrigin + performance.now() - t0 });
`;
const t0abs = performance.timeOrigin + t0;
let left = n; const rows = [];
for (let k = 0; k < n; k++) {
  const w = new Worker(src, { eval: true, workerData: { files, counter, t0: t0abs } });
  w.on('message', (m) => { rows.push(m); if (--left === 0) report(); });
}
function report() {
  const all = performance.now() - t0;
  rows.sort((a, b) => a.end - b.end);
  const f = (x) => (x / 1000).toFixed(3);
  console.log(`threads ${n}: all ${f(all)} s; files per thread ${rows.map((r) => r.done).join(',')}; ` +
    `first job at ${f(Math.min(...rows.map((r) => r.first ?? Infinity)))}-${f(Math.max(...rows.map((r) => r.first ?? 0)))} s; ` +
    `ends ${f(rows[0].end)}-${f(rows.at(-1).end)} s; busy ${f(Math.min(...rows.map((r) => r.busy)))}-${f(Math.max(...rows.map((r) => r.busy)))} s`);
}
JS
t() { s=$(date +%s%N); "$@" >/dev/null; echo "$(( ($(date +%s%N) - s) / 1000000 ))"; }
echo "$FILES files of 256 MiB, P=$P, $(nproc) cores"
for r in $(seq 1 "$ROUNDS"); do
  a=$(t sh -c "ls $W/d/* | xargs -P$P -n1 sha256sum")
  b=$(t sh -c "ls $W/d/* | xargs -P$P -n1 $N $W/one.js")
  s=$(date +%s%N); line=$("$N" "$W/threads.js" "$W/d" "$P"); c=$(( ($(date +%s%N) - s) / 1000000 ))
  echo "round $r: xargs sha256sum $a ms; xargs node-one-file $b ms; node $P threads $c ms ($line)"
done
rm -rf "$W"
