#!/bin/sh
# Issue #19 on the GPU box: install bundle v1, smoke, install v2, smoke, rollback (dry run, then real), smoke.
# Records after each step the stamp (/etc/vault-ai/image-version.json), `history --json`, the journal, dpkg's
# and the venv's versions, and the smoke results, so v1's state and the rolled-back state can be diffed.
# The box has no Node.js and no network: v2's carried runtime/node runs the tool for every step.
#
# Rollback puts back apt (vbtest 2.0 -> 1.0 with --allow-downgrades from v1's checked .debs; vbextra, which v2
# pulled in, marked auto and autoremoved), the venv (vb-beta 2.1.0 -> 1.0.0), the model ref, the file and the
# stamp; then a second rollback must say "nothing to do". compare.txt says, per record, whether the rolled-back
# box equals what v1 left.
#
# Build the two bundles on the build host (Debian 12, from a clean clone):
#   npm ci && npx tsx bench/rollback-bundles.ts /tmp/rb     # -> /tmp/rb/v1 and /tmp/rb/v2 (with the runtime)
# Carry /tmp/rb/v1, /tmp/rb/v2 and this script; on the box (root, no network):
#   OUT=/results sh rollback.sh /path/v1 /path/v2
set -u
v1=${1:?give the v1 bundle folder}
v2=${2:?give the v2 bundle folder}
OUT=${OUT:?set OUT to the results folder}
[ -f "$v2/vault-bundle" ] || { echo "no carried runtime in $v2" >&2; exit 2; }
vb() { unshare -n sh "$v2/vault-bundle" "$@"; }
state=/var/lib/vault-bundle
venv=/opt/vault-ai/venv
mkdir -p "$OUT"
log="$OUT/rollback.log"
: >"$log"

snap() {
  d="$OUT/$1"
  mkdir -p "$d"
  cp /etc/vault-ai/image-version.json "$d/" 2>/dev/null || echo "no stamp" >"$d/no-stamp"
  vb --json history --state-dir "$state" >"$d/history.json" 2>>"$log"
  cp "$state/journal.jsonl" "$d/" 2>/dev/null || true
  dpkg-query -W -f '${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\n' | sort >"$d/dpkg.tsv"
  apt-mark showauto | sort >"$d/apt-auto.txt"
  sha256sum /etc/vault-ai/motd.txt >"$d/motd.sha256" 2>&1
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

date -u | tee -a "$log"
step verify-v1 verify "$v1"
step install-v1 install "$v1" --keep-blobs
snap 1-v1 "$v1"
vb install "$v2" --dry-run >"$OUT/install-v2-plan.txt" 2>&1
step install-v2 install "$v2"
snap 2-v2 "$v2"
vb history >"$OUT/history.txt" 2>&1
vb rollback --dry-run >"$OUT/rollback-plan.txt" 2>&1
vb --json rollback --dry-run >"$OUT/rollback-plan.json" 2>>"$log"
s=$(date +%s%N)
step rollback rollback
echo "rollback ms=$(( ($(date +%s%N)-s)/1000000 ))" | tee -a "$OUT/steps.txt"
snap 3-rolled-back "$v1"
step rollback-again rollback
vb rollback >"$OUT/rollback-again.txt" 2>&1
vb history >"$OUT/history-after.txt" 2>&1
for f in image-version.json dpkg.tsv apt-auto.txt pip-freeze.txt hf-refs.tsv motd.sha256; do
  if cmp -s "$OUT/1-v1/$f" "$OUT/3-rolled-back/$f"; then echo "$f: equal to v1"; else echo "$f: DIFFERS from v1"; fi
done | tee "$OUT/compare.txt"
