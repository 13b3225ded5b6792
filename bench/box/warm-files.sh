# Sourced by bench/box/hash-threads.sh and hash-procs.sh: unpacks the carried runtime (.carry/rt.tar.xz) into a
# scratch folder $W, sets N to its node, and writes FILES files of 256 MiB into $W/d, read once so they are warm.
# shellcheck shell=sh disable=SC2034
W=$(mktemp -d /var/tmp/hash-bench.XXXXXX)
tar -C "$W" -xJf .carry/rt.tar.xz
N="$W/runtime/node"
mkdir "$W/d"
head -c 268435456 /dev/urandom >"$W/d/0"
i=1; while [ "$i" -lt "$FILES" ]; do cp "$W/d/0" "$W/d/$i"; i=$((i + 1)); done
cat "$W/d"/* >/dev/null
