#!/bin/bash
# Device batch 1 (session 5): issue #19 rollback on the box (v1, v2, rollback, smoke after each), then issue #16's
# build-from-serve vs huggingface_hub.snapshot_download(max_workers=8) on a 4 GiB model made on the box.
set -u
C=$(pwd)/.carry
W=$(mktemp -d /var/tmp/b1.XXXXXX)
log() { echo "[$(date -u +%T)] $*"; }
{
log "unpack"
mkdir -p "$W/b" && tar -C "$W/b" -xJf "$C/bundles.tar.xz" && tar -C "$W" -xJf "$C/rt.tar.xz"
for b in quickstart v1 v2; do cp -a "$W/runtime" "$W/b/$b/"; done
nvidia-smi -L; nproc; python3 -c 'import huggingface_hub, torch; print("hf", huggingface_hub.__version__, "torch", torch.__version__)'
log "rollback"; mkdir -p "$OUT/rollback"
( cd "$W" && OUT="$OUT/rollback" timeout 290 sh "$C/rollback.sh" "$W/b/v1" "$W/b/v2" ); log "rollback rc=$?"
cat "$OUT/rollback/steps.txt" "$OUT/rollback/compare.txt" 2>&1
tar -C "$OUT" -czf "$OUT/rollback.tgz" rollback && rm -rf "$OUT/rollback"
log "site-build-vs-snapshot"; mkdir -p "$OUT/site"
( cd "$W" && OUT="$OUT/site" WORK=/var/tmp/sbs timeout 235 sh "$C/site-build-vs-snapshot.sh" "$W/b/quickstart" ); log "site rc=$?"
cat "$OUT/site/site-build-vs-snapshot.json" 2>&1
tar -C "$OUT" -czf "$OUT/site.tgz" site && rm -rf "$OUT/site"
log "end"
} > "$OUT/batch1.log" 2>&1
tail -c 6000 "$OUT/batch1.log"
