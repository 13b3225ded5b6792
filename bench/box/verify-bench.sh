#!/bin/sh
# verify speed and memory on the GPU box (issue #14): variants of the hashing pool's knobs against the parallel
# peers, warm (best of REPEATS, interleaved rounds) and cold, with peak RSS, in one call.
#
#   sh bench/box/verify-bench.sh BUNDLE        (BUNDLE: a folder holding runtime/node and runtime/vault-bundle.cjs,
#                                               e.g. any carried bundle, or bench/box/verify-bench-box.sh's unpack)
#
# The box has no Node: the carried runtime (the same pair `sh BUNDLE/vault-bundle` runs) first BUILDS a files
# bundle of generated data, then verifies it. Environment: OUT (results folder, default ./verify-bench-out), WORK
# (scratch on a disk with 2.2 x GIB free; default /var/tmp/vault-verify-bench), GIB (default 16), FILES (default
# 64), REPEATS (default 3), BUDGET_S (seconds for the warm rounds: no new round starts after it, default 240),
# COLD=0 (skip the cold pairs, which drop the page cache), COLD_VARIANTS (like VARIANTS, each timed cold after a cold
# cat of its own; empty: none), THREADS (verify --threads; default: every core), CJS
# (the vault-bundle.cjs to time; default: BUNDLE's), BASE_CJS (optional: a second one, e.g. main's, timed as
# `verify-base`; a boot.cjs beside its vault-bundle.cjs and vault-bundle.cache runs that script from its code cache,
# as the entry points do), VARIANTS (`label=ENV=v ENV2=v;label2=...`; default below), KEEP=1 (keep WORK).
# The knobs (src/util/hash-worker.ts, read only by this bench): VAULT_HASH_READ_KIB, VAULT_HASH_MAX_THREADS,
# VAULT_HASH_MAIN=0 (16 workers, the main thread only hands out work: the pool before this branch),
# VAULT_HASH_OLD_MB (a worker's old-generation limit), VAULT_HASH_ORDER=listed, VAULT_HASH_RETIRE=0 (workers stay
# until the end instead of going as the queue empties: the `keep-workers` row); MALLOC_ARENA_MAX is glibc's.
# VAULT_HASHER=threads|sha256sum|openssl (src/util/hash-procs.ts) picks who hashes the big files: where the box's
# sha256sum links libcrypto, verify hands them to sha256sum processes; `threads=VAULT_HASHER=threads` times the threads.
# Through boot.cjs, `verify` starts its hashing threads before the CLI loads (src/util/early-hash.ts); the
# `no-early` row (VAULT_EARLY_HASH=0) is the same without, and so is every row that sets a VAULT_HASH_* knob.
# Results: $OUT/verify-bench.jsonl (one line a run), verify-bench.json (best of each, ratios, targets), summary.md
# (the table), verify-json.txt (verify --json three times, each with its wall_ms: per-step ms, threads-spawn/threads-start/
# threads-stop, startedAtMs), startup.txt
# (node -e 0, --version with and without the code cache, and boot.cjs's word on the cache), log.txt.
set -eu
# verify runs as the entry points run it (src/runtime/sh/gate.sh): without NODE_EXTRA_CA_CERTS, which node would
# load as it starts (~40-70 ms on the GPU box, whose environment sets it; a field box has no node, nor the variable).
# Where it was set, the row `verify, NODE_EXTRA_CA_CERTS set` times verify with it, as information.
EXTRA_CA=${NODE_EXTRA_CA_CERTS-}
unset NODE_EXTRA_CA_CERTS
B=$(cd "${1:?usage: verify-bench.sh BUNDLE}" && pwd)
OUT=${OUT:-$PWD/verify-bench-out}
WORK=${WORK:-/var/tmp/vault-verify-bench}
GIB=${GIB:-16}
FILES=${FILES:-64}
REPEATS=${REPEATS:-3}
BUDGET_S=${BUDGET_S:-240}
NODE="$B/runtime/node"
# The CLI as the entry points run it: runtime/boot.cjs (the packed script from its V8 code cache, when it has one);
# CJS= names a vault-bundle.cjs to run directly instead (no code cache), as do bundles made before boot.cjs.
PLAIN="$B/runtime/vault-bundle.cjs"
if [ -n "${CJS:-}" ] || [ ! -f "$B/runtime/boot.cjs" ]; then CJS=${CJS:-$PLAIN}; else CJS="$B/runtime/boot.cjs"; fi
VARIANTS=${VARIANTS:-"verify=;no-early=VAULT_EARLY_HASH=0;keep-workers=VAULT_HASH_RETIRE=0;main-idle=VAULT_HASH_MAIN=0;read-1m=VAULT_HASH_READ_KIB=1024;read-4m=VAULT_HASH_READ_KIB=4096;read-8m=VAULT_HASH_READ_KIB=8192;cap-12=VAULT_HASH_MAX_THREADS=12;cap-14=VAULT_HASH_MAX_THREADS=14;old-8=VAULT_HASH_OLD_MB=8;arena-2=MALLOC_ARENA_MAX=2"}
# Cold variants, each as a cold pair (cat, then verify) after the plain one: bigger reads (a bigger first read-ahead
# window of the kernel for each file, fewer waits at file starts).
COLD_VARIANTS=${COLD_VARIANTS-"read-1m=VAULT_HASH_READ_KIB=1024"}
mkdir -p "$OUT" "$WORK/data"
log() { echo "[$(date -u +%T)] $*" | tee -a "$OUT/log.txt"; }
[ -x "$NODE" ] || { cp "$NODE" "$WORK/node" && chmod 700 "$WORK/node" && NODE="$WORK/node"; }
"$NODE" --version >/dev/null
NPROC=$(nproc)
log "start: $NPROC cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $GIB GiB in $FILES files"

BUNDLE="$WORK/out/verifybench"
if [ ! -f "$BUNDLE/SHA256SUMS" ]; then
# 1. Data: FILES files of GIB/FILES each, random (nothing compresses), made 16 at a time.
per=$((GIB * 1024 / FILES))
i=0
while [ "$i" -lt "$FILES" ]; do
  f="$WORK/data/f$i.bin"
  [ -s "$f" ] && [ "$(stat -c %s "$f")" -eq $((per * 1048576)) ] || echo "$f"
  i=$((i + 1))
done | xargs -r -P16 -I{} sh -c "openssl enc -aes-128-ctr -pass pass:{} -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $((per * 1048576)) > {}"
log "data made"

# 2. Manifest (the files source wants each sha256) and build with the carried runtime.
M="$WORK/data/manifest.yaml"
(cd "$WORK/data" && printf '%s\n' f*.bin | xargs -P"$NPROC" -n1 sha256sum) >"$WORK/data.sums"
{
  printf 'name: verifybench\nversion: 1.0.0\ndescription: verify bench data (%s GiB, %s files)\n' "$GIB" "$FILES"
  printf 'target:\n  os: ubuntu-24.04\n  arch: amd64\nfiles:\n'
  i=0
  while [ "$i" -lt "$FILES" ]; do
    printf '  - name: f%s\n    path: f%s.bin\n    sha256: %s\n' "$i" "$i" "$(grep " f$i.bin\$" "$WORK/data.sums" | cut -c1-64)"
    i=$((i + 1))
  done
} >"$M"
"$NODE" "$CJS" --cache-dir "$WORK/cache" -q build "$M" --out "$BUNDLE" --lock "$WORK/manifest.lock.json"
rm -rf "$WORK/cache" "$WORK/data"/f*.bin # the bundle stands alone: the cache and the sources only cost disk and page cache
fi
log "bundle built"
# The peers hash exactly the files verify hashes: every path SHA256SUMS lists.
(cd "$BUNDLE" && sed -n 's/^[0-9a-f]\{64\}  //p' SHA256SUMS) >"$WORK/list"

# 3. Runs: wall time and peak RSS (python3's getrusage of children: the largest single process).
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
# Fixed costs: a bare node, the CLI's load (--version; with boot.cjs also without its code cache), verify's own
# account of its steps (--json), and whether boot.cjs used the cache (startup.txt).
for _ in 1 2 3 4 5; do
  run "node -e 0" warm "'$NODE' -e 0"
  [ -z "$EXTRA_CA" ] || run "node -e 0, NODE_EXTRA_CA_CERTS set" warm "NODE_EXTRA_CA_CERTS='$EXTRA_CA' '$NODE' -e 0"
  run "cli --version" warm "'$NODE' '$CJS' --version"
  [ "$CJS" = "$PLAIN" ] || run "cli --version no-cache" warm "'$NODE' '$PLAIN' --version"
  [ -z "${BASE_CJS:-}" ] || run "cli --version base" warm "'$NODE' '$BASE_CJS' --version"
done >/dev/null
VAULT_BUNDLE_BOOT_REPORT=1 "$NODE" "$CJS" --version >/dev/null 2>"$WORK/boot.txt" || true
# The base's word on its code cache too (startup.txt), and its verify --json after this one's (verify-json.txt).
[ -z "${BASE_CJS:-}" ] || VAULT_BUNDLE_BOOT_REPORT=1 "$NODE" "$BASE_CJS" --version >/dev/null 2>>"$WORK/boot.txt" || true
xargs -a "$WORK/list" cat >/dev/null # warm
: >"$OUT/verify-json.txt"
# Three of them, each followed by its wall time: with the result's startedAtMs and durationMs, what start-up and exit cost.
for _ in 1 2 3; do
  s=$(date +%s%N)
  # shellcheck disable=SC2086 # T is empty or two words
  "$NODE" "$CJS" --json verify $T . >>"$OUT/verify-json.txt" 2>&1 || true
  echo "wall_ms $((($(date +%s%N) - s) / 1000000))" >>"$OUT/verify-json.txt"
done
# shellcheck disable=SC2086
[ -z "${BASE_CJS:-}" ] || "$NODE" "$BASE_CJS" --json verify $T . >>"$OUT/verify-json.txt" 2>&1 || true
log "warm rounds (budget ${BUDGET_S} s)"
t0=$(date +%s)
r=0
while [ "$r" -lt "$REPEATS" ] && { [ "$r" = 0 ] || [ $(($(date +%s) - t0)) -lt "$BUDGET_S" ]; }; do
  echo "$VARIANTS" | tr ';' '\n' | while IFS= read -r v; do
    [ -n "$v" ] || continue
    run "${v%%=*}" warm "env ${v#*=} '$NODE' '$CJS' -q verify $T ."
  done
  [ -z "${BASE_CJS:-}" ] || run verify-base warm "'$NODE' '$BASE_CJS' -q verify $T ."
  [ -z "$EXTRA_CA" ] || run "verify, NODE_EXTRA_CA_CERTS set" warm "NODE_EXTRA_CA_CERTS='$EXTRA_CA' '$NODE' '$CJS' -q verify $T ."
  [ "$CJS" = "$PLAIN" ] || run verify-no-cache warm "'$NODE' '$PLAIN' -q verify $T ."
  run "sh ./verify" warm "sh ./verify -q $T"
  run "xargs -P$NPROC sha256sum" warm "xargs -a '$WORK/list' -P$NPROC -n1 sha256sum"
  run "xargs -P$NPROC openssl" warm "xargs -a '$WORK/list' -P$NPROC -n1 openssl dgst -sha256"
  r=$((r + 1))
  log "round $r done"
done
run "verify --threads 32" warm "'$NODE' '$CJS' -q verify --threads 32 ."
if [ "${COLD:-1}" != 0 ]; then
  run cat cold "cat \$(cat '$WORK/list') >/dev/null"
  run verify cold "'$NODE' '$CJS' -q verify $T ."
  # Cold variants (the disk's speed varies run to run: each after a cat of its own, the ratio per pair in the summary).
  echo "$COLD_VARIANTS" | tr ';' '\n' | while IFS= read -r v; do
    [ -n "$v" ] || continue
    run "cat-${v%%=*}" cold "cat \$(cat '$WORK/list') >/dev/null"
    run "${v%%=*}" cold "env ${v#*=} '$NODE' '$CJS' -q verify $T ."
  done
fi
log "runs done"

# 4. Summary: best of each, each verify against the faster peer (warm) and cat (cold), RSS against 200 MiB.
python3 - "$OUT/verify-bench.jsonl" "$NPROC" "$GIB" "$FILES" "$OUT/summary.md" >"$OUT/verify-bench.json" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best, rss, n, walls = {}, {}, {}, {}
for r in runs:
    if r.get('rc') == 0:
        k = r['label'] + (' cold' if r['cold'] else ' warm')
        best[k] = min(best.get(k, 1e9), r['wall_s'])
        rss[k] = max(rss.get(k, 0), r.get('max_rss_kib', 0))
        n[k] = n.get(k, 0) + 1
        walls.setdefault(k, []).append(r['wall_s'])
med = {k: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2 for k, v in walls.items()}
peer = min([v for k, v in best.items() if k.startswith('xargs')] or [0])
peer_med = min([v for k, v in med.items() if k.startswith('xargs') and k.endswith('warm')] or [0])
fixed = ('node -e 0', 'cli --version', 'cat', 'xargs')  # 'sh ./verify' (the gate hashes the 100 MB node too) keeps its ratio
rows = ['| run | best s | median s | runs | vs best peer (best) | (median) | peak RSS MiB |', '|---|---|---|---|---|---|---|']
for k in sorted(best, key=lambda k: (k.endswith('cold'), med[k])):
    ratio = round(peer / best[k], 3) if peer and k.endswith('warm') and not k.startswith(fixed) else ''
    mratio = round(peer_med / med[k], 3) if peer_med and k.endswith('warm') and not k.startswith(fixed) else ''
    rows.append('| %s | %.3f | %.3f | %d | %s | %s | %d |' % (k, best[k], med[k], n[k], ratio, mratio, round(rss[k] / 1024)))
v, vc, c = best.get('verify warm'), best.get('verify cold'), best.get('cat cold')
verify_rss = [r.get('max_rss_kib', 0) for r in runs if r['label'] in ('verify', 'verify --threads 32')]
out = {'cores': int(sys.argv[2]), 'gib': int(sys.argv[3]), 'files': int(sys.argv[4]), 'best_s': best,
       'peak_rss_mib': {k: round(x / 1024) for k, x in rss.items()},
       'median_s': med,
       'warm_ratio_vs_best_peer': round(peer / v, 3) if v and peer else None, 'warm_target': 0.9,
       'warm_median_ratio_vs_best_peer': round(peer_med / med['verify warm'], 3) if peer_med and 'verify warm' in med else None,
       'variant_ratios_vs_best_peer': {k: round(peer / x, 3) for k, x in best.items()
                                       if peer and k.endswith('warm') and not k.startswith(fixed)},
       'cold_ratio_vs_cat': round(c / vc, 3) if vc and c else None, 'cold_target': 0.95,
       'cold_variant_ratios_vs_their_cat': {k[:-5]: round(best['cat-' + k[:-5] + ' cold'] / x, 3) for k, x in best.items()
                                            if k.endswith(' cold') and 'cat-' + k[:-5] + ' cold' in best},
       'verify_peak_rss_mib': round(max(verify_rss or [0]) / 1024), 'rss_target_mib': 200}
open(sys.argv[5], 'w').write('\n'.join(rows) + '\n\n' + ', '.join('%s: %s' % (k, out[k]) for k in (
    'warm_ratio_vs_best_peer', 'warm_median_ratio_vs_best_peer', 'cold_ratio_vs_cat', 'verify_peak_rss_mib')) + '\n')
print(json.dumps(out, indent=2))
PY
{ grep -h '"label": "\(node -e 0\|cli --version[^"]*\)"' "$OUT/verify-bench.jsonl"; cat "$WORK/boot.txt"; } >"$OUT/startup.txt" 2>/dev/null || true
cat "$OUT/summary.md"
cd /
[ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
