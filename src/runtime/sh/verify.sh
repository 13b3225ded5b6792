#!/bin/sh
# First thing to run on the box, from the bundle folder or anywhere: ./verify (or: sh ./verify)
# Checks the carried runtime with sha256sum or python3 (and, with --key, SHA256SUMS.asc with gpgv) before running
# anything from runtime/, then verifies the whole bundle.
set -eu
who=verify
#@include prelude.sh
self=$(cd "$here" && pwd -P)
n=$#
val=""
while [ "$n" -gt 0 ]; do
  a=$1
  shift
  n=$((n - 1))
  if [ -n "$val" ]; then
    val=""
  else
    case $a in
      --threads|--base|--key|--cache-dir|--concurrency|--streams) val=1 ;;
      -*) ;;
      *)
        if [ -d "$a" ] && [ "$(cd "$a" && pwd -P)" = "$self" ]; then continue; fi
        if [ -f "$a/verify" ]; then fail 64 "$a is another bundle folder; this ./verify checks the folder it is in ($here)" "run that folder's own verify: sh $a/verify"; fi
        fail 64 "$a: this ./verify checks the folder it is in ($here) and takes no other path" "run it with no path: sh $here/verify [--key release.asc]"
        ;;
    esac
  fi
  set -- "$@" "$a"
done
sub=verify
#@include gate.sh
VAULT_BUNDLE_ENTRY=./verify "$node" "$here/runtime/boot.cjs" verify "$here" "$@"
exit $?
