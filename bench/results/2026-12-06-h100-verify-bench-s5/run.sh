#!/bin/sh
# verify speed and memory on the GPU box (issue #14), against the parallel peers, warm and cold.
#
#   sh bench/box/verify-bench.sh BUNDLE        (BUNDLE: any carried bundle folder built from this branch)
#
# The box has no Node: the carried runtime of BUNDLE (runtime/node + runtime/vault-bundle.cjs, the same
# pair `sh BUNDLE/vault-bundle` runs) first BUILDS a files bundle of generated data, then verifies it.
# Environment: OUT (results folder, default ./verify-bench-out), WORK (scratch folder on a disk with
# 2.2 x GIB free; default /var/tmp/vault-verify-bench), GIB (default 16), FILES (default 64), REPEATS
# (default 3), COLD=0 (skip the cold runs, which drop the page cache), THREADS (verify --threads; default: every core),
# CJS (the vault-bundle.cjs to time; default: BUNDLE's carried one), BASE_CJS (optional: a second vault-bundle.cjs,
# e.g. main's, timed the same way for an A/B in one run), KEEP=1 (keep WORK).
# E.g. with the quickstart bundle of main carried and this branch's packed script beside it (`npx tsx
# src/runtime/pack.ts new.cjs`): CJS=$PWD/new.cjs BASE_CJS=$B/runtime/vault-bundle.cjs sh verify-bench.sh $B
# Results: $OUT/verify-bench.txt (one line a run) and $OUT/verify-bench.json (best of each, ratios, targets).
set -eu
B=$(cd "${1:?usage: verify-bench.sh BUNDLE}" && pwd)
OUT=${OUT:-$PWD/verify-bench-out}
WORK=${WORK:-/var/tmp/vault-verify-bench}
GIB=${GIB:-16}
FILES=${FILES:-64}
REPEATS=${REPEATS:-3}
NODE="$B/runtime/node"
CJS=${CJS:-$B/runtime/vault-bundle.cjs}
mkdir -p "$OUT" "$WORK/data"
[ -x "$NODE" ] || { cp "$NODE" "$WORK/node" && chmod 700 "$WORK/node" && NODE="$WORK/node"; }
"$NODE" --version >/dev/null
NPROC=$(nproc)

# 1. Data: FILES files of GIB/FILES each, random (nothing compresses), made 16 at a time.
per=$((GIB * 1024 / FILES))
i=0
while [ "$i" -lt "$FILES" ]; do
  f="$WORK/data/f$i.bin"
  [ -s "$f" ] && [ "$(stat -c %s "$f")" -eq $((per * 1048576)) ] || echo "$f"
  i=$((i + 1))
done | xargs -r -P16 -I{} sh -c "openssl enc -aes-128-ctr -pass pass:{} -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $((per * 1048576)) > {}"

# 2. Manifest (the files source wants each sha256) and build with the carried runtime.
M="$WORK/data/manifest.yaml"
(cd "$WORK/data" && ls f*.bin | xargs -P"$(nproc)" -n1 sha256sum) >"$WORK/data.sums"
{
  printf 'name: verifybench\nversion: 1.0.0\ndescription: verify bench data (%s GiB, %s files)\n' "$GIB" "$FILES"
  printf 'target:\n  os: ubuntu-24.04\n  arch: amd64\nfiles:\n'
  i=0
  while [ "$i" -lt "$FILES" ]; do
    printf '  - name: f%s\n    path: f%s.bin\n    sha256: %s\n' "$i" "$i" "$(grep " f$i.bin\$" "$WORK/data.sums" | cut -c1-64)"
    i=$((i + 1))
  done
} >"$M"
BUNDLE="$WORK/out/verifybench"
if [ ! -f "$BUNDLE/SHA256SUMS" ]; then
  "$NODE" "$CJS" --cache-dir "$WORK/cache" -q build "$M" --out "$BUNDLE" --lock "$WORK/manifest.lock.json"
  rm -rf "$WORK/cache" # the bundle stands alone; the cache only costs disk
fi
# The peers hash exactly the files verify hashes: every path SHA256SUMS lists.
(cd "$BUNDLE" && sed -n 's/^[0-9a-f]\{64\}  //p' SHA256SUMS) >"$WORK/list"

# 3. Runs: wall time and peak RSS of the whole process tree (python3's getrusage of children).
cat >"$WORK/run.py" <<'PY'
import json, os, resource, subprocess, sys, time
label, cold, cmd = sys.argv[1], sys.argv[2] == 'cold', sys.argv[3]
if cold:
    subprocess.run('sync', shell=True)
    try:
        open('/proc/sys/vm/drop_caches', 'w').write('3\n')
    except OSError as e:
        print(json.dumps({'label': label, 'error': 'cannot drop caches: %s' % e})); sys.exit(0)
t = time.monotonic()
r = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB: the largest single process
print(json.dumps({'label': label, 'cold': cold, 'wall_s': round(wall, 3), 'max_rss_kib': rss, 'rc': r.returncode,
                  **({'stderr': r.stderr[-400:]} if r.returncode else {})}))
PY
T=""
[ -z "${THREADS:-}" ] || T="--threads $THREADS"
cd "$BUNDLE"
run() { python3 "$WORK/run.py" "$1" "$2" "$3" | tee -a "$OUT/verify-bench.jsonl"; }
: >"$OUT/verify-bench.jsonl"
cat $(cat "$WORK/list") >/dev/null # warm
r=0
while [ "$r" -lt "$REPEATS" ]; do
  run verify warm "'$NODE' '$CJS' -q verify $T ."
  [ -z "${BASE_CJS:-}" ] || run verify-base warm "'$NODE' '$BASE_CJS' -q verify $T ."
  run "xargs -P$NPROC sha256sum" warm "xargs -a '$WORK/list' -P$NPROC -n1 sha256sum"
  run "xargs -P$NPROC openssl" warm "xargs -a '$WORK/list' -P$NPROC -n1 openssl dgst -sha256"
  r=$((r + 1))
done
[ "${COLD:-1}" = 0 ] || run cat cold "cat \$(cat '$WORK/list') >/dev/null"
[ "${COLD:-1}" = 0 ] || run verify cold "'$NODE' '$CJS' -q verify $T ."
[ "${COLD:-1}" = 0 ] || run cat cold "cat \$(cat '$WORK/list') >/dev/null"
[ "${COLD:-1}" = 0 ] || run verify cold "'$NODE' '$CJS' -q verify $T ."

# 4. Summary: best of each, verify against the faster peer (warm) and cat (cold), RSS against 200 MB.
python3 - "$OUT/verify-bench.jsonl" "$NPROC" "$GIB" "$FILES" >"$OUT/verify-bench.json" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in runs:
    if r.get('rc') == 0:
        k = r['label'] + (' cold' if r['cold'] else ' warm')
        best[k] = min(best.get(k, 1e9), r['wall_s'])
peak = max([r.get('max_rss_kib', 0) for r in runs if r['label'].startswith('verify')] or [0])
peer = min([v for k, v in best.items() if k.startswith('xargs')] or [0])
v, vc, c = best.get('verify warm'), best.get('verify cold'), best.get('cat cold')
out = {'cores': int(sys.argv[2]), 'gib': int(sys.argv[3]), 'files': int(sys.argv[4]), 'best_s': best,
       'warm_ratio_vs_best_peer': round(peer / v, 3) if v and peer else None, 'warm_target': 0.9,
       'cold_ratio_vs_cat': round(c / vc, 3) if vc and c else None, 'cold_target': 0.95,
       'verify_peak_rss_mib': round(peak / 1024), 'rss_target_mib': 200}
if 'verify-base warm' in best and v:
    out['base_over_new'] = round(best['verify-base warm'] / v, 3)
print(json.dumps(out, indent=2))
PY
cat "$OUT/verify-bench.json"
cd /
[ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
