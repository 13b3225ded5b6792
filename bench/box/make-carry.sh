#!/bin/sh
# Dev side of a GPU-box batch (bench/box/batch-site-verify.sh): fills .carry/ (ignored; pass it as the device call's
# carry) with this machine's node and this checkout's packed CLI (rt.tar.xz: runtime/ with node, vault-bundle.cjs,
# boot.cjs and the script's code cache) and the quickstart bundle built with that very runtime, without runtime/
# (qs.tar.xz), so its SHA256SUMS matches.
# Then, on the box, from the repository root:   bash bench/box/batch-site-verify.sh   (carry: .carry)
set -eu
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
npx tsx src/runtime/pack.ts dist/vault-bundle.cjs
[ -d manifests/models ] || npm run -s models
node dist/vault-bundle.cjs -q --cache-dir "$W/cache" build manifests/quickstart.yaml --runtime host --out "$W/quickstart"
mkdir -p .carry
tar -C "$W/quickstart" -cf - runtime | xz -T0 -6 >.carry/rt.tar.xz
: >.carry/cjs.xz # the runtime above already holds this checkout's CLI (the batch swaps cjs.xz in when it is not empty)
tar -C "$W" --exclude=quickstart/runtime -cf - quickstart | xz -T0 -6 >.carry/qs.tar.xz
# BASE_RT=<runtime folder of another checkout, made by this node> rides along as `verify-base` (the before of an A/B).
rm -f .carry/base-rt.tar.xz
[ -z "${BASE_RT:-}" ] || tar -C "$BASE_RT" -cf - vault-bundle.cjs boot.cjs vault-bundle.cache | xz -T0 -6 >.carry/base-rt.tar.xz
ls -l .carry
