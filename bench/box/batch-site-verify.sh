#!/bin/bash
# GPU-box batch, one device call of ~480 s (made ready in session 6; .carry from bench/box/make-carry.sh): issue #16's
# build-from-serve vs huggingface_hub.snapshot_download first, then issue #14's verify bench (four knob variants, then
# the cold pair) in what is left (ONLY=site: the first alone; ONLY=verify: the second alone). Results: $OUT/results.tgz and the log's tail.
set -u
C=$(pwd)/.carry
R=$(pwd)
W=$(mktemp -d /var/tmp/b6.XXXXXX)
T0=$(date +%s)
log() { echo "[$(date -u +%T) +$(( $(date +%s) - T0 ))s] $*"; }
{
log "unpack"
tar -C "$W" -xJf "$C/rt.tar.xz"
# A swapped-in cjs has no code cache of its own: boot.cjs finds the cache stale (its header) and compiles it plainly.
[ ! -s "$C/cjs.xz" ] || xz -dc "$C/cjs.xz" >"$W/runtime/vault-bundle.cjs"
mkdir -p "$W/b" && tar -C "$W/b" -xJf "$C/qs.tar.xz" && cp -a "$W/runtime" "$W/b/quickstart/"
nvidia-smi -L; nproc; python3 -c 'import huggingface_hub; print("hf", huggingface_hub.__version__)'
log "field: ./verify (the gate hashes the runtime with python3's hashlib when python3 is there)"
( cd "$W/b/quickstart" && time sh ./verify ) 2>&1 | tail -5
if [ "${ONLY:-}" != verify ]; then
log "site build vs snapshot"; mkdir -p "$OUT/site"
( cd "$W" && OUT="$OUT/site" WORK=/var/tmp/sbs REPEATS=2 STREAMS_ALSO="${STREAMS_ALSO-}" THREADS_ALSO="${THREADS_ALSO-0 4}" timeout 200 sh "$R/bench/box/site-build-vs-snapshot.sh" "$W/b/quickstart" >"$OUT/site/stdout.txt" 2>&1 ); log "site rc=$?"
cat "$OUT/site/site-build-vs-snapshot.json" 2>&1; cat "$OUT/site/curl.tsv" "$OUT/site/phases.tsv" 2>/dev/null | head -24
rm -rf /var/tmp/sbs
fi
if [ "${ONLY:-}" != site ]; then
log "verify bench"; mkdir -p "$OUT/vb"
# A base runtime (make-carry.sh BASE_RT=…: vault-bundle.cjs, boot.cjs and its code cache) is timed as `verify-base`.
BASE=""; if [ -s "$C/base-rt.tar.xz" ]; then mkdir -p "$W/base-rt" && tar -C "$W/base-rt" -xJf "$C/base-rt.tar.xz" && BASE="$W/base-rt/boot.cjs"; fi
( OUT="$OUT/vb" WORK=/var/tmp/vault-verify-bench GIB=16 FILES=64 REPEATS=${REPEATS:-3} BUDGET_S=${BUDGET_S:-80} COLD=${COLD:-1} \
  VARIANTS="${VARIANTS:-verify=;keep-workers=VAULT_HASH_RETIRE=0}" BASE_CJS="$BASE" \
  timeout $(( ${BATCH_S:-480} - ( $(date +%s) - T0 ) )) sh "$R/bench/box/verify-bench.sh" "$W" >"$OUT/vb/stdout.txt" 2>&1 ); log "verify bench rc=$?"
if [ -f "$OUT/vb/summary.md" ]; then cat "$OUT/vb/summary.md"; else cat "$OUT/vb/verify-bench.jsonl"; fi
fi
log "end"
} > "$OUT/batch.log" 2>&1
tar -C "$OUT" -czf "$OUT/results.tgz" vb site batch.log 2>/dev/null
rm -rf "$OUT/vb" "$OUT/site" /var/tmp/sbs /var/tmp/vault-verify-bench "$W"
tail -c 9000 "$OUT/batch.log"
