#!/bin/sh
# Renovation check: two checkouts build the same lock into the same place; their bundles (a folder, a tar, a
# fat32 split, a delta with an expiry) and what each command printed must be byte for byte the same.
#
#   bench/same-bundle.sh OLD_CHECKOUT NEW_CHECKOUT [MANIFEST]
#
# Without MANIFEST a files-only manifest is generated (no network). With one (e.g. manifests/quickstart.yaml
# after "npm run -s models" in NEW_CHECKOUT), it is locked once, by NEW_CHECKOUT, and both build that lock.
# --runtime none: the carried runtime is the packed tool itself, which a renovation changes by design.
# Exit 0 when everything is identical; otherwise diff's output and exit 1.
set -eu
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -ge 3 ]; then
  manifest=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
else
  manifest=$work/m.yaml
  printf 'name: same\nversion: 1.0.0\ntarget:\n  os: ubuntu-24.04\n  arch: amd64\n  python: "3.12"\nfiles:\n' > "$manifest"
  for i in 0 1 2; do
    head -c $((1000 + i * 70000)) /dev/urandom > "$work/f$i.bin"
    printf '  - name: f%s\n    path: %s\n    sha256: %s\n' "$i" "$work/f$i.bin" "$(sha256sum "$work/f$i.bin" | cut -d' ' -f1)" >> "$manifest"
  done
  printf '    install:\n      dest: /opt/same/f2.bin\n      mode: "0755"\n' >> "$manifest"
fi
lock=$work/m.lock.json
node "$new/bin/vault-bundle.js" --cache-dir "$work/cache" -q lock "$manifest" -o "$lock"
# Every blob into the cache first: both sides then print the same lines (no downloads in a racing order).
node "$new/bin/vault-bundle.js" --cache-dir "$work/cache" -q build "$manifest" --lock "$lock" --locked --runtime none -o "$work/warm"

for side in old new; do
  eval "repo=\$$side"
  o=$work/out
  mkdir -p "$o"
  vb() { (cd "$repo" && node bin/vault-bundle.js --cache-dir "$work/cache" "$@"); }
  b="build $manifest --lock $lock --locked --runtime none"
  vb $b -o "$o/dir" > "$o/dir.out" 2>&1
  vb $b --media tar -o "$o/tar" > "$o/tar.out" 2>&1
  vb $b --media fat32 --part-size 1MiB -o "$o/fat" > "$o/fat.out" 2>&1
  vb $b --base "$o/dir" --expires 2099-01-01 -o "$o/delta" > "$o/delta.out" 2>&1
  vb --json verify "$o/dir" | sed -E 's/"(durationMs|ms)":[0-9.]+//g' > "$o/verify.json"
  vb verify "$o/fat" | sed -E 's/ in [0-9.]+ s \([^)]*\)//' > "$o/verify-fat.out" 2>&1
  vb inspect "$o/tar.tar" > "$o/inspect.out" 2>&1
  vb diff "$o/dir" "$o/delta" > "$o/diff.out" 2>&1 || true
  vb sbom --format spdx "$o/dir" > "$o/spdx.json" 2>&1
  vb sbom --format licenses "$o/dir" > "$o/licenses.out" 2>&1
  mv "$o" "$work/$side"
done
diff -r "$work/old" "$work/new" && echo "identical: $(find "$work/new" -type f | wc -l) files (bundles, tar, parts, command output)"
