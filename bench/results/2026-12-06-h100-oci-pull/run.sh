#!/bin/bash
# Issue #18 on the GPU box (no network, no Node, no registry): the CNCF distribution registry is carried as a
# binary and started on the box's loopback; the bundle is pushed there with its own carried runtime, pulled back
# (every digest checked), verified, and installed straight from oci://. Results and logs go to $OUT.
#   usage: bash oci-pull.sh [BUNDLE_DIR] [DOCKER_REGISTRY_BINARY]
#   defaults: ./bundle and ./docker-registry beside this script (carry /usr/bin/docker-registry from a Debian 12
#   build host: it needs only libc). DRY_RUN=1: install --dry-run; INSTALL_FLAGS: more install flags.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${1:-$HERE/bundle}" && pwd)
REG_BIN=${2:-$HERE/docker-registry}
OUT=${OUT:-/tmp/oci-pull-out}; mkdir -p "$OUT"
W=$(mktemp -d /tmp/oci-box.XXXXXX)
PORT=${PORT:-5055}
REF=oci://127.0.0.1:$PORT/box/bundle:1
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; . /etc/os-release; echo "$PRETTY_NAME"; which node || echo "no node on the box"
du -sh "$B"
cat > "$W/config.yml" <<CFG
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/data}}
http: {addr: 127.0.0.1:$PORT}
CFG
chmod +x "$REG_BIN"
"$REG_BIN" serve "$W/config.yml" > "$W/registry.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; rm -rf "$W"' EXIT
for i in $(seq 1 50); do python3 -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:$PORT/v2/')" 2>/dev/null && break; sleep 0.2; done
VB="sh $B/vault-bundle"
echo "== push (carried runtime)"; s=$(t); $VB push "$B" "$REF"; echo "rc=$? ms=$(ms $s)"
echo "== re-push, unchanged"; s=$(t); $VB --json push "$B" "$REF" | tail -1 > "$OUT/repush.json"; echo "rc=$? ms=$(ms $s)"; cat "$OUT/repush.json"
echo "== pull into a folder"; s=$(t); $VB pull "$REF" "$W/pulled"; echo "rc=$? ms=$(ms $s)"
echo "== byte-identical to the pushed bundle"; diff -r "$B" "$W/pulled" && echo identical
echo "== ./verify of the pulled folder"; s=$(t); sh "$W/pulled/verify"; echo "rc=$? ms=$(ms $s)"
echo "== install straight from oci:// (pulled into the cache first)"
s=$(t); $VB --cache-dir "$W/cache" install ${DRY_RUN:+--dry-run} ${INSTALL_FLAGS:-} "$REF"; echo "rc=$? ms=$(ms $s)"
[ -f /var/lib/vault-bundle/journal.jsonl ] && cp /var/lib/vault-bundle/journal.jsonl "$OUT/journal.jsonl"
cp "$W/registry.log" "$OUT/" 2>/dev/null
date -u
