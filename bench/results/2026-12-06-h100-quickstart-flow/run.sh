#!/bin/bash
# The README's box flow with the bundle `npm start` builds, on a stock Ubuntu 24.04 GPU box (no Node, no
# network), as a field tech runs it (issue #15): verify, install --dry-run, install, smoke; install again
# (must say nothing to do); then smoke --save-baseline and two --baseline compares (must not fail).
#
# On the build host, from a clean clone:
#   git clone <repo> qs && cd qs && npm ci && npm start          # bundles/quickstart, verified
#   (optional) vault-bundle sign bundles/quickstart --key release-secret.asc; export the public key as pub.asc
#   tar -C bundles -cJf quickstart.tar.xz quickstart             # carried to the box with this script
# On the box (root):  OUT=/results bash quickstart-flow.sh quickstart.tar.xz [pub.asc]
# $1: the bundle folder, or a .tar/.tar.xz of it; $2: the release public key (optional: then --key is left out).
# Everything it prints goes to $OUT/box-log.txt; results.json/summary.txt of each smoke run, the journal, the
# baseline and the timings (timings.tsv) go to $OUT. Every vault-bundle step runs under `unshare -n` (no network).
set -u
IN=${1:?give the quickstart bundle folder or its tar}
KEY=${2:-}
OUT=${OUT:?set OUT to the results folder}
mkdir -p "$OUT"
exec > >(tee "$OUT/box-log.txt") 2>&1
# Multicast NVLink is off on these machines (KINDS.md); harmless with one GPU.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
W=$(mktemp -d /tmp/qs-flow.XXXXXX)
t() { date +%s%N; }
step() { echo; echo "== $*"; }
timed() { # name cmd...: runs it, prints rc and ms, appends to timings.tsv
  local name=$1; shift; local s; s=$(t); "$@"; local rc=$?
  local ms=$(( ($(t)-s)/1000000 )); echo "rc=$rc ms=$ms"; printf '%s\t%s\t%s\n' "$name" "$rc" "$ms" >> "$OUT/timings.tsv"; return $rc
}
date -u; . /etc/os-release; echo "$PRETTY_NAME"; uname -r; which node || echo "no node on the box"
nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.max,pcie.link.width.max --format=csv,noheader || true
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' || true
if [ -d "$IN" ]; then cp -r "$IN" "$W/quickstart"; else tar -C "$W" -xf "$IN"; fi
cd "$W/quickstart" || { echo "no quickstart folder in $IN"; exit 1; }
K=(); [ -n "$KEY" ] && K=(--key "$(readlink -f "$KEY")")
# The box before: what apt has of the quickstart's packages (tree, pciutils) and whether the models are there.
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' tree pciutils libpci3 pci.ids 2>&1 | sed 's/^/before: /'
printf 'step\trc\tms\n' > "$OUT/timings.tsv"

step "./verify ${K[*]}";                timed verify unshare -n sh ./verify "${K[@]}"
step "install --dry-run";               timed install-dry-run unshare -n sh ./vault-bundle install . "${K[@]}" --dry-run
ls /var/lib/vault-bundle 2>&1 | sed 's/^/state after the dry run: /'
step "install";                         timed install unshare -n sh ./vault-bundle install . "${K[@]}"
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' tree pciutils libpci3 pci.ids 2>&1 | sed 's/^/after: /'
step "smoke (the README's first run, no baseline: judged by the datasheet table)"
timed smoke unshare -n sh ./vault-bundle smoke --bundle . --out ../smoke-1 | tail -16
cp ../smoke-1/results.json "$OUT/smoke-1-results.json"; cp ../smoke-1/summary.txt "$OUT/smoke-1-summary.txt"
step "install again (must say nothing to do)"; timed install-again unshare -n sh ./vault-bundle install . "${K[@]}" | tail -4
step "smoke --save-baseline (3 measurements of each metric)"
timed smoke-save unshare -n sh ./vault-bundle smoke --bundle . --out ../smoke-save --save-baseline ../baseline.json | tail -16
for i in 1 2; do
  step "smoke --baseline, compare $i (same box, nothing changed: must not fail)"
  timed "smoke-compare-$i" unshare -n sh ./vault-bundle smoke --bundle . --out "../smoke-compare-$i" --baseline ../baseline.json | tail -16
  cp "../smoke-compare-$i/results.json" "$OUT/smoke-compare-$i-results.json"; cp "../smoke-compare-$i/summary.txt" "$OUT/smoke-compare-$i-summary.txt"
  python3 - "../smoke-compare-$i/results.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    if c["id"] == "baseline.compare":
        print("baseline.compare:", c["status"], "-", c.get("reason"))
        print(c.get("detail", ""))
PY
done
step "verify after everything (nothing was written into the bundle)"; timed verify-after unshare -n sh ./verify "${K[@]}" | tail -2
cp ../baseline.json "$OUT/" 2>/dev/null; cp ../smoke-save/results.json "$OUT/smoke-save-results.json" 2>/dev/null
cp /var/lib/vault-bundle/journal.jsonl "$OUT/" 2>/dev/null
echo; echo "== timings"; cat "$OUT/timings.tsv"
