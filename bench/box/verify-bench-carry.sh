#!/bin/sh
# Dev side of the box's verify bench (issue #14): packs this checkout's CLI and this machine's node into
# .carry/verify-rt.tar.xz (runtime/: node, vault-bundle.cjs, boot.cjs and the script's code cache; ~30 MB), the
# runtime bench/box/verify-bench-box.sh unpacks on the box. BASE_CJS=<a packed vault-bundle.cjs> (e.g. main's) also carries .carry/verify-base.cjs.xz,
# timed beside it as `verify-base`.
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
[ -z "${BASE_CJS:-}" ] || xz -T0 -6 -c "$BASE_CJS" >.carry/verify-base.cjs.xz
ls -l .carry/verify-rt.tar.xz ${BASE_CJS:+.carry/verify-base.cjs.xz}
