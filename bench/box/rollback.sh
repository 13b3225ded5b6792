#!/bin/sh
# Issue #19 on the GPU box: install bundle v1, smoke, install v2, smoke, rollback (dry run, then real), smoke.
# Records after each step the stamp (/etc/vault-ai/image-version.json), `history --json`, the journal, dpkg's
# and the venv's versions, and the smoke results, so v1's state and the rolled-back state can be diffed.
# The box has no Node.js and no network: v2's carried runtime/node runs the tool for every step.
#
# Note: this branch's rollback puts back files, HF refs and the stamp; when v2 changed apt packages or the
# venv, rollback is refused before any change (ROLLBACK_UNSUPPORTED, exit 4): the script records that too.
#
# Usage: sh bench/box/rollback.sh <carried bundle v1 folder> <carried bundle v2 folder>   (results under $OUT)
set -u
v1=${1:?give the v1 bundle folder}
v2=${2:?give the v2 bundle folder}
OUT=${OUT:?set OUT to the results folder}
node="$v2/runtime/node"
cli="$v2/runtime/vault-bundle.cjs"
[ -x "$node" ] && [ -f "$cli" ] || { echo "no carried runtime in $v2" >&2; exit 2; }
vb() { "$node" "$cli" "$@"; }
state=/var/lib/vault-bundle
venv=/opt/vault-ai/venv
log="$OUT/rollback.log"
: >"$log"

snap() {
  d="$OUT/$1"
  mkdir -p "$d"
  cp /etc/vault-ai/image-version.json "$d/" 2>/dev/null || echo "no stamp" >"$d/no-stamp"
  vb --json history --state-dir "$state" >"$d/history.json" 2>>"$log"
  cp "$state/journal.jsonl" "$d/" 2>/dev/null || true
  dpkg-query -W -f '${Package}\t${Version}\n' | sort >"$d/dpkg.tsv"
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip freeze --all 2>/dev/null | sort >"$d/pip-freeze.txt"
  find "${HF_HOME:-/opt/vault-ai/models}/hub" -path '*/refs/*' -type f -exec sh -c 'printf "%s\t%s\n" "$1" "$(cat "$1")"' _ {} \; 2>/dev/null | sort >"$d/hf-refs.tsv"
  vb smoke --bundle "$2" --out "$d/smoke" >>"$log" 2>&1
  echo "$1: smoke exit $?" | tee -a "$log"
}

step() {
  name=$1; shift
  vb "$@" >>"$log" 2>&1
  rc=$?
  echo "$name: exit $rc" | tee -a "$log" "$OUT/steps.txt"
}

step install-v1 install "$v1" --ignore-target
snap 1-v1 "$v1"
step install-v2 install "$v2" --ignore-target
snap 2-v2 "$v2"
vb rollback --dry-run >"$OUT/rollback-plan.txt" 2>&1
vb --json rollback --dry-run >"$OUT/rollback-plan.json" 2>>"$log"
step rollback rollback
snap 3-rolled-back "$v1"
step rollback-again rollback
for f in image-version.json dpkg.tsv pip-freeze.txt hf-refs.tsv; do
  if cmp -s "$OUT/1-v1/$f" "$OUT/3-rolled-back/$f"; then echo "$f: equal to v1"; else echo "$f: DIFFERS from v1"; fi
done | tee "$OUT/compare.txt"
