#!/bin/bash
# Issue #6 on 2 H200s: install the signed box-demo bundle with no network, then the whole smoke suite twice:
# first saving a baseline, then comparing against it (NCCL all-reduce over 2 GPUs is the point of this run).
set -u
cd "$(dirname "$0")"
# The lender's rule for shared NVSwitch hosts: NVLink multicast stays off, also for torchrun's children.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
W=/tmp/stick; mkdir -p $W
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; . /etc/os-release; echo "$PRETTY_NAME"; which node || echo "no node on the box"
nvidia-smi -L; nvidia-smi topo -m 2>&1 | head -8
tar -C $W -xJf final.tar.xz; cd $W/fbase
echo "== install --key (no network)"; s=$(t); unshare -n sh ./vault-bundle install . --key ../pub.asc | tail -4; echo "rc=$? ms=$(ms $s)"
echo "== full smoke 1, no network, saving the baseline"; s=$(t); sh ./vault-bundle smoke --bundle . --netns --out /tmp/s1 --save-baseline $OUT/baseline.json; echo "rc=$? ms=$(ms $s)"
mkdir -p $OUT/run1 $OUT/run2
cp /tmp/s1/results.json /tmp/s1/junit.xml /tmp/s1/summary.txt /tmp/s1/thermal.csv /tmp/s1/thermal.svg $OUT/run1/ 2>/dev/null
echo "== full smoke 2, compared with the baseline"; s=$(t); sh ./vault-bundle smoke --bundle . --netns --out /tmp/s2 --baseline $OUT/baseline.json; echo "rc=$? ms=$(ms $s)"
cp /tmp/s2/results.json /tmp/s2/junit.xml /tmp/s2/summary.txt /tmp/s2/thermal.csv /tmp/s2/thermal.svg $OUT/run2/ 2>/dev/null
cp /tmp/s1/raw/* $OUT/run1/ 2>/dev/null; ls /tmp/s1 /tmp/s1/raw
