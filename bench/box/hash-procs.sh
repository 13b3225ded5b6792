#!/bin/sh
# Issue #14's box figure: can verify's hashing match `xargs -P16 -n1 sha256sum` by handing whole files to the box's
# own sha256sum processes from node (a queue as xargs keeps: one file a process, the next started as one ends),
# against one node process of N hashing threads (verify's loop)? Same files, same rounds, alternating.
# FILES (default 64) files of 256 MiB, warm, ROUNDS (default 3). From the repository root on the box, carry .carry.
FILES=${FILES:-64}
. bench/box/warm-files.sh # set -u, ROUNDS (default 3), P (default nproc), W (scratch), N (node), $W/d/0..FILES-1 (256 MiB each, warm), $W/threads.js
cat >"$W/procs.js" <<'JS'
const { spawn } = require('child_process');
const fs = require('fs');
const [dir, n, per, tool] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] || 1), process.argv[5] || 'sha256sum'];
// per 0: one file a process given as its stdin (an fd node opened), no name on the command line
const cmd = tool === 'openssl' ? ['openssl', ['dgst', '-sha256', '-r']] : ['sha256sum', []];
const files = fs.readdirSync(dir).map((f) => dir + '/' + f);
let next = 0, running = 0, got = 0, spawnMs = 0;
const t0 = performance.now();
function launch() {
  if (next >= files.length) return;
  const batch = files.slice(next, next + Math.max(per, 1)); next += batch.length; running++;
  const s = performance.now();
  const fd = per === 0 ? fs.openSync(batch[0], fs.constants.O_RDONLY | fs.constants.O_NONBLOCK) : 'ignore';
  const c = per === 0 ? spawn(cmd[0], cmd[1], { stdio: [fd, 'pipe', 'inherit'] }) : spawn(cmd[0], [...cmd[1], '--', ...batch], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (per === 0) fs.closeSync(fd);
  spawnMs += performance.now() - s;
  let out = '';
  c.stdout.setEncoding('latin1').on('data', (d) => (out += d));
  c.on('close', () => {
    got += out.split('\n').filter((l) => /^[0-9a-f]{64} /.test(l)).length;
    running--;
    launch();
    if (running === 0) console.log(`${tool} ${n}x${per}: all ${((performance.now() - t0) / 1000).toFixed(3)} s; digests ${got}/${files.length}; main thread in spawn ${spawnMs.toFixed(1)} ms`);
  });
}
for (let k = 0; k < n; k++) launch();
JS
# One xargs started from node, the files opened by node and passed down as descriptors (named /dev/fd/N): one
# spawn from node instead of one a file; xargs (a small process) starts the sha256sum processes.
cat >"$W/xargs.js" <<'JS'
const { spawn } = require('child_process');
const fs = require('fs');
const [dir, n] = [process.argv[2], Number(process.argv[3])];
const t0 = performance.now();
const files = fs.readdirSync(dir).map((f) => dir + '/' + f);
const fds = files.map((f) => fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
const s = performance.now();
const c = spawn('xargs', ['-0', '-P', String(n), '-n1', 'sha256sum'], { stdio: ['pipe', 'pipe', 'inherit', ...fds] });
const spawnMs = performance.now() - s;
c.stdin.end(files.map((_, k) => '/dev/fd/' + (3 + k)).join('\0'));
let out = '';
c.stdout.setEncoding('latin1').on('data', (d) => (out += d));
c.on('close', () => {
  const got = out.split('\n').filter((l) => /^[0-9a-f]{64}  \/dev\/fd\/\d+$/.test(l)).length;
  console.log(`one xargs: all ${((performance.now() - t0) / 1000).toFixed(3)} s; digests ${got}/${files.length}; main thread in spawn ${spawnMs.toFixed(1)} ms`);
});
JS
t() { s=$(date +%s%N); "$@" >/dev/null; echo "$(( ($(date +%s%N) - s) / 1000000 ))"; }
echo "$FILES files of 256 MiB, P=$P, $(nproc) cores; $(sha256sum --version | head -1); node $("$N" --version)"
for r in $(seq 1 "$ROUNDS"); do
  a=$(t sh -c "ls $W/d/* | xargs -P$P -n1 sha256sum")
  s=$(date +%s%N); l1=$("$N" "$W/procs.js" "$W/d" "$P" 1); b=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); l2=$("$N" "$W/threads.js" "$W/d" "$P"); c=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); l3=$("$N" "$W/procs.js" "$W/d" "$P" 0); d=$(( ($(date +%s%N) - s) / 1000000 ))
  e=$(t sh -c "ls $W/d/* | xargs -P$P -n1 openssl dgst -sha256")
  s=$(date +%s%N); l4=$("$N" "$W/procs.js" "$W/d" "$P" 0 openssl); f=$(( ($(date +%s%N) - s) / 1000000 ))
  s=$(date +%s%N); l5=$("$N" "$W/xargs.js" "$W/d" "$P"); g=$(( ($(date +%s%N) - s) / 1000000 ))
  echo "round $r: xargs sha256sum $a ms; node->one xargs (fds) $g ms ($l5); node->sha256sum args $b ms ($l1); node threads $c ms ($l2); node->sha256sum stdin $d ms ($l3); xargs openssl $e ms; node->openssl stdin $f ms ($l4)"
done
rm -rf "$W"
