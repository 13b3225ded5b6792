#!/bin/sh
# The rollout role's steps on one GPU box, without Ansible (the box has none): what
# ansible/collections/ansible_collections/vault_ai/bundle/roles/rollout does per host, in the same order and
# with the same record, so `vault-bundle fleet` reads this box beside the ones Ansible rolled out to.
#
#   sh fleet-role.sh <bundle folder> [release key]      (as root; OUT=<folder> for the results, default ./out)
#
# Leaves $OUT/results/<hostname>/ with rollout.json, results.json, junit.xml, thermal.csv/.svg, journal.jsonl,
# the raw output of each step in $OUT/logs/, and a check-mode pass first (install --dry-run) in $OUT/logs too.
# Then on the controller: vault-bundle fleet <that results folder> (with other boxes' folders beside it).
# Needs sh, coreutils, python3 (only to write rollout.json, as Ansible would need it) and the bundle.
set -u
BUNDLE=$(cd "${1:?usage: fleet-role.sh <bundle folder> [release key]}" && pwd)
KEY=${2:-}
OUT=${OUT:-$PWD/out}
HOST=${FLEET_HOST:-$(hostname)}
STATE=${STATE_DIR:-/var/lib/vault-bundle}
SMOKE_OUT=${SMOKE_OUT:-$STATE/smoke-results}
BASELINE=${BASELINE_FILE:-$STATE/smoke-baseline.json}
RES="$OUT/results/$HOST"
LOGS="$OUT/logs"
mkdir -p "$RES" "$LOGS"
printf '%s\n' "$HOST" > "$OUT/results/expected-hosts.txt"
keyargs=""
[ -n "$KEY" ] && keyargs="--key $KEY"
steps="$LOGS/steps.tsv"
: > "$steps"
step() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$steps"; }   # name, rc, changed

cd "$BUNDLE" || exit 1
digest=$(sha256sum SHA256SUMS | cut -c1-64)
step copy 0 false

# ./verify (the role: "Verify the bundle")
# shellcheck disable=SC2086
sh ./verify $keyargs > "$LOGS/verify.out" 2> "$LOGS/verify.err"; vrc=$?
step verify "$vrc" false

if [ "$vrc" = 0 ]; then
  # Check mode first: install --dry-run changes nothing (the role under --check).
  # shellcheck disable=SC2086
  sh ./vault-bundle --json install . --state-dir "$STATE" --dry-run $keyargs > "$LOGS/install-dry-run.jsonl" 2> "$LOGS/install-dry-run.err"
  echo "dry-run exit $?" >> "$LOGS/install-dry-run.err"
  # shellcheck disable=SC2086
  sh ./vault-bundle --json install . --state-dir "$STATE" $keyargs > "$LOGS/install.jsonl" 2> "$LOGS/install.err"; irc=$?
  changed=$(python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{\"type\":\"result\"")]
print("true" if r and any(x["changed"] for x in r[-1].get("reports",[])) else "false")' "$LOGS/install.jsonl")
  step install "$irc" "$changed"
  if [ "$irc" = 0 ]; then
    rm -rf "$SMOKE_OUT"
    base=""
    [ -f "$BASELINE" ] && base="--baseline $BASELINE"
    # shellcheck disable=SC2086
    sh ./vault-bundle smoke --bundle . --out "$SMOKE_OUT" $base > "$LOGS/smoke.out" 2> "$LOGS/smoke.err"; src=$?
    step smoke "$src" false
  fi
fi

for f in "$SMOKE_OUT/results.json" "$SMOKE_OUT/junit.xml" "$SMOKE_OUT/thermal.csv" "$SMOKE_OUT/thermal.svg" "$STATE/journal.jsonl"; do
  [ -f "$f" ] && cp "$f" "$RES/"
done

python3 - "$RES/rollout.json" "$HOST" "$digest" "$steps" "$LOGS" <<'PY'
import datetime, json, os, sys
out, host, digest, steps, logs = sys.argv[1:]
bundle = json.load(open("bundle.json"))
msgs = {"verify": "verify.err", "install": "install.err", "smoke": "smoke.out"}
def message(name, rc):
    path = os.path.join(logs, msgs.get(name, ""))
    if not os.path.isfile(path):
        return ""
    lines = [l.rstrip() for l in open(path, errors="replace")]
    hits = [l for l in lines if l.startswith("error:") or "FAIL" in l or "ERROR" in l]
    return "\n".join(hits or lines[-3:]) if rc != 0 else ""
record = []
for line in open(steps):
    name, rc, changed = line.rstrip("\n").split("\t")
    s = {"step": name, "rc": int(rc), "ok": rc == "0", "changed": changed == "true"}
    m = message(name, int(rc))
    if m:
        s["message"] = m
    record.append(s)
json.dump({"schema": "vault-bundle/fleet-rollout/v1", "host": host,
           "finished": datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
           "checkMode": False, "bundle": {"name": bundle.get("name"), "version": bundle.get("version"), "digest": "sha256:" + digest},
           "steps": record}, open(out, "w"), indent=2)
PY
echo "results in $RES:"; ls -l "$RES"
