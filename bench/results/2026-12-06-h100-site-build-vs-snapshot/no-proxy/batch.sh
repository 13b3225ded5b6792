#!/bin/bash
# Device batch 3 (session 5): issue #16's build-from-serve vs snapshot_download without the pacing proxy (PROXY=0),
# to see whether the proxy or the clients set the figure of batch 1.
set -u
C=$(pwd)/.carry
W=$(mktemp -d /var/tmp/b3.XXXXXX)
log() { echo "[$(date -u +%T)] $*"; }
{
log "unpack"
mkdir -p "$W/b" && tar -C "$W/b" -xJf "$C/bundles.tar.xz" && tar -C "$W" -xJf "$C/rt.tar.xz"
cp -a "$W/runtime" "$W/b/quickstart/"
mkdir -p "$OUT/site"
( cd "$W" && OUT="$OUT/site" WORK=/var/tmp/sbs PROXY=0 REPEATS=3 timeout 400 sh "$C/site-build-vs-snapshot.sh" "$W/b/quickstart" ); log "site rc=$?"
cat "$OUT/site/site-build-vs-snapshot.json" 2>&1
tar -C "$OUT" -czf "$OUT/site.tgz" site && rm -rf "$OUT/site"
log "end"
} > "$OUT/batch3.log" 2>&1
tail -c 3000 "$OUT/batch3.log"
