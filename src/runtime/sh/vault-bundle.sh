#!/bin/sh
# Runs the carried vault-bundle: ./vault-bundle install .   ./vault-bundle smoke --bundle .
# (or: sh ./vault-bundle …). With --key, SHA256SUMS.asc is checked with gpgv before anything runs.
set -eu
who=vault-bundle
#@include prelude.sh

# The command word: the first argument that is not an option (nor the value of --cache-dir/--concurrency).
sub=""
skip=""
for a in "$@"; do
  if [ -n "$skip" ]; then skip=""; continue; fi
  case $a in
    --cache-dir|--concurrency) skip=1 ;;
    -*) ;;
    *) sub=$a; break ;;
  esac
done
#@include gate.sh
"$node" "$here/runtime/boot.cjs" "$@"
exit $?
