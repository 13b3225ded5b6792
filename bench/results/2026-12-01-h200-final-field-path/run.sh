#!/bin/bash
# The whole field path with the final tool of 2026-12-01: a signed FAT32-style bundle and a signed delta over it.
set -u
cd "$(dirname "$0")"
W=/tmp/stick; mkdir -p $W
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; . /etc/os-release; echo "$PRETTY_NAME"; which node || echo "no node on the box"
tar -C $W -xJf final.tar.xz; cd $W/fbase
echo "== probe"; sh ./vault-bundle probe --out $OUT/box-probe.json | tail -3; echo "rc=$?"
echo "== ./verify --key --require-signature (parts, no network)"; unshare -n sh ./verify --key ../pub.asc --require-signature; echo "rc=$?"
echo "== install --key (no network)"; s=$(t); unshare -n sh ./vault-bundle install . --key ../pub.asc; echo "rc=$? ms=$(ms $s)"
echo "== the delta: verify with its base and key"; unshare -n sh ./vault-bundle verify ../fdelta --base . --key ../pub.asc --require-signature; echo "rc=$?"
echo "== install the delta (base from the journal)"; unshare -n sh ./vault-bundle install ../fdelta --key ../pub.asc; echo "rc=$?"; cat /opt/vault-ai/etc/release-notes.txt
echo "== inspect"; sh ./vault-bundle inspect ../fdelta | head -6
echo "== smoke (short)"; s=$(t); sh ./vault-bundle smoke --bundle . --netns --only gpu.inventory,gpu.matmul,models.load,inference.transformers --out /tmp/smoke | tail -8; echo "rc=$? ms=$(ms $s)"
cp /tmp/smoke/results.json $OUT/smoke-results.json 2>/dev/null; cp /var/lib/vault-bundle/journal.jsonl $OUT/
