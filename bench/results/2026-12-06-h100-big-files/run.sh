#!/bin/sh
# Issue #14 class 9 on the GPU box: model shards of 5 and 10 GiB through lock, build (folder, --tar, split
# parts) and verify with the bundle's carried runtime, recording each step's peak RSS (target <= 200 MB; the
# box once peaked at 2.2 GB on an 8 GiB folder) and wall time. The box has no Node.js and no network: the
# carried runtime/node runs runtime/vault-bundle.cjs, and the models are sparse files made here.
#
# Usage: sh bench/box/big-files.sh <carried bundle folder>   (results: $OUT/big-files.tsv and .log)
set -eu
bundle=${1:?give the carried bundle folder (it has runtime/node and runtime/vault-bundle.cjs)}
OUT=${OUT:?set OUT to the results folder}
node="$bundle/runtime/node"
cli="$bundle/runtime/vault-bundle.cjs"
[ -x "$node" ] && [ -f "$cli" ] || { echo "no carried runtime in $bundle" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/var/tmp}/vb-big-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
tsv="$OUT/big-files.tsv"
log="$OUT/big-files.log"
printf 'step\tsize_gib\twall_s\tmax_rss_mib\texit\n' >"$tsv"

# Peak RSS (MiB) and wall time of a command, by python3's resource module (RUSAGE_CHILDREN: the one child).
measure() {
  step=$1; gib=$2; shift 2
  res=$(python3 - "$@" <<'PY' 2>>"$log"
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[1:], stdout=sys.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, rc, '%.2f' % (time.monotonic() - t))
PY
)
  set -- $res
  printf '%s\t%s\t%s\t%s\t%s\n' "$step" "$gib" "$3" "$1" "$2" | tee -a "$tsv"
}

for gib in 5 10; do
  m="$work/model-$gib"
  mkdir -p "$m"
  printf '{"model_type":"llama"}\n' >"$m/config.json"
  truncate -s "${gib}G" "$m/model-00001-of-00001.safetensors"
  printf 'name: big%s\nversion: 1.0.0\ntarget: {os: ubuntu-24.04, arch: amd64, python: "3.12"}\nhf:\n  models:\n    - repo: org/big%s\n      local: %s\n' "$gib" "$gib" "$m" >"$work/m$gib.yaml"
  cache="$work/cache"
  measure lock "$gib" "$node" "$cli" --cache-dir "$cache" lock "$work/m$gib.yaml"
  measure build-dir+tar "$gib" "$node" "$cli" --cache-dir "$cache" build "$work/m$gib.yaml" --out "$work/b$gib" --tar "$work/b$gib.tar" --runtime none
  measure verify-dir "$gib" "$node" "$cli" verify "$work/b$gib"
  measure verify-tar "$gib" "$node" "$cli" verify "$work/b$gib.tar"
  rm -rf "$work/b$gib" "$work/b$gib.tar"
  measure build-split "$gib" "$node" "$cli" --cache-dir "$cache" build "$work/m$gib.yaml" --out "$work/s$gib" --media fat32 --part-size 2GiB --runtime none
  measure verify-split "$gib" "$node" "$cli" verify "$work/s$gib"
  rm -rf "$work/s$gib" "$cache" "$m"
done
echo "results: $tsv" >&2
