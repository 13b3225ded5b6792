#!/bin/sh
# Dev side of the box's verify bench (issue #14): packs this checkout's CLI and this machine's node into
# .carry/verify-rt.tar.xz (runtime/: node, vault-bundle.cjs, boot.cjs and the script's code cache; ~30 MB), the
# runtime bench/box/verify-bench-box.sh unpacks on the box. BASE_CJS=<a packed vault-bundle.cjs> (e.g. main's) also carries .carry/verify-base.cjs.xz,
# timed beside it as `verify-base`; BASE_RT=<a folder with vault-bundle.cjs, boot.cjs and vault-bundle.cache made by this
# node> (e.g. main's, by main's tools/code-cache.ts) carries .carry/verify-base-rt.tar.xz instead: `verify-base` then
# starts as the entry points do, from its own code cache.
#
#   sh bench/box/verify-bench-carry.sh     then the device call:   sh bench/box/verify-bench-box.sh   (carry: .carry)
set -eu
cd "$(dirname "$0")/../.."
rm -rf .carry/verify-rt && mkdir -p .carry/verify-rt/runtime
cp "$(command -v node)" .carry/verify-rt/runtime/node
npx tsx src/runtime/pack.ts .carry/verify-rt/runtime/vault-bundle.cjs
# runtime/boot.cjs and the script's V8 code cache, made by that node, as a build with --runtime host carries them.
npx tsx tools/code-cache.ts .carry/verify-rt/runtime
tar -C .carry/verify-rt -cf - runtime | xz -T0 -6 >.carry/verify-rt.tar.xz
rm -rf .carry/verify-rt
rm -f .carry/verify-base.cjs.xz .carry/verify-base-rt.tar.xz
[ -z "${BASE_CJS:-}" ] || xz -T0 -6 -c "$BASE_CJS" >.carry/verify-base.cjs.xz
[ -z "${BASE_RT:-}" ] || tar -C "$BASE_RT" -cf - vault-bundle.cjs boot.cjs vault-bundle.cache | xz -T0 -6 >.carry/verify-base-rt.tar.xz
ls -l .carry/verify-rt.tar.xz ${BASE_CJS:+.carry/verify-base.cjs.xz} ${BASE_RT:+.carry/verify-base-rt.tar.xz}
