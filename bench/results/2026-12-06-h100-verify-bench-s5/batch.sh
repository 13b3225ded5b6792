#!/bin/bash
# Device batch 2 (session 5): issue #14's verify at 16 GiB on all cores, this session's packed CLI (CJS) against
# main's at session start (BASE_CJS, 85297f9), warm vs the best xargs peer, cold vs cat, peak RSS.
set -u
C=$(pwd)/.carry
W=$(mktemp -d /var/tmp/b2.XXXXXX)
log() { echo "[$(date -u +%T)] $*"; }
{
log "unpack"
mkdir -p "$W/b" && tar -C "$W/b" -xJf "$C/bundles.tar.xz" && tar -C "$W" -xJf "$C/rt.tar.xz"
cp -a "$W/runtime" "$W/b/quickstart/"; xz -dc "$C/main.cjs.xz" > "$W/main.cjs"
mkdir -p "$OUT/vb"
( cd "$W" && OUT="$OUT/vb" WORK=/var/tmp/vvb GIB=16 FILES=64 REPEATS=2 BASE_CJS="$W/main.cjs" timeout 540 sh "$C/verify-bench.sh" "$W/b/quickstart" ); log "verify-bench rc=$?"
cat "$OUT/vb/verify-bench.json" 2>&1
log "end"
} > "$OUT/batch2.log" 2>&1
tail -c 6000 "$OUT/batch2.log"
