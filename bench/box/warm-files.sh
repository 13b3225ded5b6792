# Sourced by bench/box/hash-threads.sh and hash-procs.sh: unpacks the carried runtime (.carry/rt.tar.xz) into a
# scratch folder $W, sets N to its node, writes FILES files of 256 MiB into $W/d, read once so they are warm, and
# $W/threads.js: `$N $W/threads.js DIR N` hashes DIR's files with verify's loop on N worker threads of one process,
# jobs from a shared counter, and prints the whole time and each thread's files, first job, end and busy time.
# shellcheck shell=sh disable=SC2034
# The caller sets FILES; ROUNDS and P (processes or threads at once) default here.
set -u
ROUNDS=${ROUNDS:-3}
P=${P:-$(nproc)}
W=$(mktemp -d /var/tmp/hash-bench.XXXXXX)
tar -C "$W" -xJf .carry/rt.tar.xz
N="$W/runtime/node"
mkdir "$W/d"
head -c 268435456 /dev/urandom >"$W/d/0"
i=1; while [ "$i" -lt "$FILES" ]; do cp "$W/d/0" "$W/d/$i"; i=$((i + 1)); done
cat "$W/d"/* >/dev/null
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
