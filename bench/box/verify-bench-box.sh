#!/bin/sh
# Box side of the verify bench (issue #14), for one device call from the repository root with `.carry` carried
# (made by bench/box/verify-bench-carry.sh): unpacks the runtime, runs bench/box/verify-bench.sh on a 16 GiB bundle of
# 64 files (every knob variant and both xargs peers, best of 3 warm, one cold pair, peak RSS) under a time limit,
# results in $OUT/vb/ (summary.md first). LIMIT (seconds, default 400) bounds the whole bench; the warm rounds stop
# starting after BUDGET_S (default 200) so the summary is always written.
set -u
C=$(pwd)/.carry
W=$(mktemp -d /var/tmp/vb.XXXXXX)
mkdir -p "$OUT/vb"
tar -C "$W" -xJf "$C/verify-rt.tar.xz"
BASE=""
if [ -f "$C/verify-base.cjs.xz" ]; then xz -dc "$C/verify-base.cjs.xz" >"$W/base.cjs" && BASE="$W/base.cjs"; fi
if [ -f "$C/verify-base-rt.tar.xz" ]; then mkdir -p "$W/base-rt" && tar -C "$W/base-rt" -xJf "$C/verify-base-rt.tar.xz" && BASE="$W/base-rt/boot.cjs"; fi
OUT="$OUT/vb" WORK=/var/tmp/vault-verify-bench GIB=${GIB:-16} FILES=${FILES:-64} REPEATS=${REPEATS:-3} BUDGET_S=${BUDGET_S:-200} \
  BASE_CJS="$BASE" timeout "${LIMIT:-400}" sh bench/box/verify-bench.sh "$W" >"$OUT/vb/stdout.txt" 2>&1
echo "verify-bench rc=$?"
# Cut short by LIMIT: no summary, but every run so far is in verify-bench.jsonl.
if [ -f "$OUT/vb/summary.md" ]; then cat "$OUT/vb/summary.md"; else cat "$OUT/vb/verify-bench.jsonl"; fi
cat "$OUT/vb/log.txt" 2>&1
head -c 2000 "$OUT/vb/verify-json.txt" 2>&1
rm -rf "$W" /var/tmp/vault-verify-bench
