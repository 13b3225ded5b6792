#!/bin/sh
# Where verify's 16-thread hashing loses to `xargs -P16 sha256sum` on the box (issue #14): the same files hashed by
# sha256sum processes, by node processes running verify's loop (one file each), and by one node process with N
# worker threads running that loop on jobs from a shared counter (as verify's pool does) -- with per-thread busy
# time, so a slow thread and a late tail show. FILES (default 32) files of 256 MiB, warm, ROUNDS (default 3) rounds.
# From the repository root on the box, carry: .carry (the packed runtime's node).
FILES=${FILES:-32}
. bench/box/warm-files.sh # set -u, ROUNDS (default 3), P (default nproc), W (scratch), N (node), $W/d/0..FILES-1 (256 MiB each, warm), $W/threads.js
cat >"$W/one.js" <<'JS'
const fs = require('fs'), c = require('crypto');
const b = Buffer.allocUnsafe(128 * 1024), h = c.createHash('sha256'), fd = fs.openSync(process.argv[2], 'r');
let n, p = 0;
while ((n = fs.readSync(fd, b, 0, b.length, p)) > 0) { h.update(n === b.length ? b : b.subarray(0, n)); p += n; }
console.log(h.digest('hex').slice(0, 8));
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
