#!/bin/sh
# Issue #16, "a fairer Hub peer": on the GPU box (Ubuntu 24.04, no Node, no network; python3 with huggingface_hub),
#   sh bench/box/site-build-vs-snapshot.sh <bundle folder that carries the runtime (./vault-bundle)>
# 1. makes a model repo of SIZE_MIB (default 4096) MiB in SHARDS (default 8) safetensors-shaped shards of random
#    bytes, and builds a model bundle of it on the box with the carried CLI (hf: models: - local:);
# 2. serves that bundle (`vault-bundle serve`, the carried runtime) on loopback, behind a small python proxy
#    (PROXY_PROCS processes, default 8) that adds LATENCY_MS (default 30) to each request and paces each response to
#    MBPS (default 100) MB/s on its own, as bench/hf.ts does (PROXY=0: no proxy);
# 3. with curl (when the box has it; CURL=0 skips): serve's own throughput on the biggest shard, one stream, SHARDS
#    streams (one a shard) and 32 Range streams (4 a shard), straight from serve and through the proxy (curl.tsv);
# 4. times, REPEATS (default 3) times each, taking turns, each into an empty destination:
#      vault-bundle build of `hf: {endpoint: <proxy>/hf, models: [{repo, revision: <commit>}]}` (--runtime none),
#        once as it is (big files in byte ranges over 32 streams) and once per --streams value in STREAMS_ALSO
#        (default "1": one stream a file, as before #16's ranged downloads) and once per VAULT_FETCH_THREADS value in
#        THREADS_ALSO (default "0": ranged parts on the main thread, as before session 8's fetch threads; the build
#        as it is takes 4 threads on 16 cores: fetch/part-threads.ts); each build's --json events go to
#        build-<variant>-<round>.jsonl, its phase times (lock, resolve, fetch, assemble) to phases.tsv and its peak
#        RSS (KiB) to rss.tsv;
#      huggingface_hub.snapshot_download(repo, revision=<commit>, max_workers=8) from the same proxy,
#    checks every file of both against the model's sha256s, and writes site-build-vs-snapshot.json (best of each,
#    ratio = snapshot_download / build; the target is >= 1.5) and the logs to $OUT (default ./site-build-vs-snapshot-out).
# Off the box: VB="node dist/vault-bundle.cjs" runs the CLI from a checkout; SNAPSHOT=0 skips the python client.
set -eu
BUNDLE=$(cd "${1:?usage: site-build-vs-snapshot.sh <bundle folder with the carried runtime>}" && pwd)
OUT=${OUT:-./site-build-vs-snapshot-out}
SIZE_MIB=${SIZE_MIB:-4096}
SHARDS=${SHARDS:-8}
REPEATS=${REPEATS:-3}
LATENCY_MS=${LATENCY_MS:-30}
MBPS=${MBPS:-100}
PROXY=${PROXY:-1}
SNAPSHOT=${SNAPSHOT:-1}
CURL=${CURL:-1}
STREAMS_ALSO=${STREAMS_ALSO-1}
THREADS_ALSO=${THREADS_ALSO-0}
PORT=${PORT:-18090}
PROXY_PORT=$((PORT + 1))
VB=${VB:-"sh $BUNDLE/vault-bundle"}
REPO=bench/big
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=${WORK:-$(mktemp -d)}
SERVE_PID=
PROXY_PID=
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  [ -n "$SERVE_PID" ] && { pkill -TERM -P "$SERVE_PID" 2>/dev/null || true; kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { python3 -c 'import time; print(time.time())'; }
log() { echo "[site-build-vs-snapshot] $*" | tee -a "$OUT/run.log"; }

# 1. The model: config.json and SHARDS shards (an 8-byte header length, a JSON header, then random bytes).
log "making a ${SIZE_MIB} MiB model in $SHARDS shards under $WORK/model"
mkdir -p "$WORK/model"
python3 - "$WORK/model" "$SIZE_MIB" "$SHARDS" <<'PY'
import json, os, struct, sys
out, mib, shards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = mib * (1 << 20) // shards
json.dump({"model_type": "bench", "architectures": ["Bench"], "shards": shards}, open(os.path.join(out, "config.json"), "w"))
index = {"metadata": {"total_size": 0}, "weight_map": {}}
for i in range(shards):
    name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
    header = json.dumps({"__metadata__": {"format": "pt"}, f"w{i}": {"dtype": "U8", "shape": [per], "data_offsets": [0, per]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = per
        while left:
            n = min(left, 16 << 20)
            f.write(os.urandom(n))
            left -= n
    index["weight_map"][f"w{i}"] = name
    index["metadata"]["total_size"] += per
json.dump(index, open(os.path.join(out, "model.safetensors.index.json"), "w"))
PY
cat >"$WORK/local.yaml" <<EOF
name: bench-model
version: 1.0.0
target: {os: ubuntu-24.04, arch: amd64}
hf:
  models:
    - { repo: $REPO, local: $WORK/model }
EOF
t0=$(now)
$VB -q --cache-dir "$WORK/cache-local" build "$WORK/local.yaml" --out "$WORK/model-bundle" --runtime none >>"$OUT/run.log" 2>&1
log "model bundle built in $(python3 -c "print(round($(now) - $t0, 2))") s"
rm -rf "$WORK/cache-local"
COMMIT=$(python3 -c 'import json,sys; print([a["meta"]["commit"] for a in json.load(open(sys.argv[1]))["artifacts"] if a["kind"] == "hf"][0])' "$WORK/model-bundle/bundle.json")

# 2. serve (the carried runtime) and the pacing proxy.
$VB serve "$WORK/model-bundle" --listen "127.0.0.1:$PORT" --access-log "$OUT/access.jsonl" >"$OUT/serve.out" 2>"$OUT/serve.err" &
SERVE_PID=$!
i=0
until grep -q '^serving' "$OUT/serve.out" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$SERVE_PID" 2>/dev/null; then log "serve did not start"; cat "$OUT/serve.err" >&2; exit 1; fi
  sleep 0.5
done
ENDPOINT="http://127.0.0.1:$PORT/hf"
if [ "$PROXY" = 1 ]; then
  python3 - "$PROXY_PORT" "127.0.0.1:$PORT" "$LATENCY_MS" "$MBPS" >"$OUT/proxy.log" 2>&1 <<'PY' &
# Each request waits LATENCY_MS, then its response body is paced to MBPS MB/s on its own (bench/hf.ts's network).
import http.client, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, up, latency, rate = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) / 1000, float(sys.argv[4]) * 1e6
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def forward(self):
        time.sleep(latency)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if self.command == "POST" else None
        c = http.client.HTTPConnection(up, timeout=120)
        c.request(self.command, self.path, body=body, headers={k: v for k, v in self.headers.items() if k.lower() not in HOP})
        r = c.getresponse()
        self.send_response_only(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP: self.send_header(k, v)
        self.end_headers()
        t0, sent = time.monotonic(), 0
        while self.command != "HEAD":
            chunk = r.read(256 << 10)
            if not chunk: break
            self.wfile.write(chunk)
            sent += len(chunk)
            ahead = t0 + sent / rate - time.monotonic()
            if ahead > 0: time.sleep(ahead)
        c.close()
    do_GET = do_HEAD = do_POST = forward
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", port), Proxy)
# One python process tops out near 1.2 GB/s in all (the GIL), well under what per-response pacing promises when
# many streams run at once: PROXY_PROCS processes accept on the one socket, each gone with its parent.
import ctypes, os, signal
for _ in range(int(os.environ.get("PROXY_PROCS", "8")) - 1):
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        break
srv.serve_forever()
PY
  PROXY_PID=$!
  ENDPOINT="http://127.0.0.1:$PROXY_PORT/hf"
  i=0
  until python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$ENDPOINT/api/models/$REPO/revision/$COMMIT" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -gt 100 ] && { log "proxy did not start"; cat "$OUT/proxy.log" >&2; exit 1; }; sleep 0.2
  done
fi
log "serving $REPO@$COMMIT at $ENDPOINT (latency ${LATENCY_MS} ms, ${MBPS} MB/s per response, proxy=$PROXY)"

cat >"$WORK/hub.yaml" <<EOF
name: bench-from-serve
version: 1.0.0
target: {os: ubuntu-24.04, arch: amd64}
hf:
  endpoint: $ENDPOINT
  models:
    - { repo: $REPO, revision: $COMMIT }
EOF

# 3. serve's own throughput (and through the proxy), with curl: MB/s of whole transfers, caches dropped by nobody
#    (the blobs are in the page cache, as for the clients below).
if [ "$CURL" = 1 ] && command -v curl >/dev/null 2>&1; then
  : >"$OUT/curl.tsv"
  FILES=$(python3 -c 'import json,sys; print(" ".join(a["meta"]["path"] for a in sorted(json.load(open(sys.argv[1]))["artifacts"], key=lambda a: -a["size"]) if a["kind"] == "hf" and a["size"] > 1 << 20))' "$WORK/model-bundle/bundle.json")
  BIG=${FILES%% *}
  BIG_SIZE=$(python3 -c 'import json,sys; print(max(a["size"] for a in json.load(open(sys.argv[1]))["artifacts"]))' "$WORK/model-bundle/bundle.json")
  for base in "http://127.0.0.1:$PORT/hf" "$ENDPOINT"; do
    [ "$base" = "http://127.0.0.1:$PORT/hf" ] && via=serve || via=proxy
    [ "$via" = proxy ] && [ "$PROXY" != 1 ] && continue
    t0=$(now); curl -fsS -o /dev/null "$base/$REPO/resolve/$COMMIT/$BIG"; t1=$(now)
    printf '%s\tone-stream\t%s\n' "$via" "$(python3 -c "print(round($BIG_SIZE / ($t1 - $t0) / 1e6))")" >>"$OUT/curl.tsv"
    # `wait` names its curls: a bare one would wait for serve and the proxy too.
    t0=$(now); pids=; for f in $FILES; do curl -fsS -o /dev/null "$base/$REPO/resolve/$COMMIT/$f" & pids="$pids $!"; done; wait $pids; t1=$(now)
    printf '%s\tone-a-shard\t%s\n' "$via" "$(python3 -c "print(round($SIZE_MIB * 1048576 / ($t1 - $t0) / 1e6))")" >>"$OUT/curl.tsv"
    t0=$(now); pids=
    for f in $FILES; do
      q=$((BIG_SIZE / 4 + 1)); i=0
      while [ "$i" -lt 4 ]; do curl -fsS -o /dev/null -r "$((i * q))-$((i * q + q - 1))" "$base/$REPO/resolve/$COMMIT/$f" & pids="$pids $!"; i=$((i + 1)); done
    done
    wait $pids; t1=$(now)
    printf '%s\tfour-ranges-a-shard\t%s\n' "$via" "$(python3 -c "print(round($SIZE_MIB * 1048576 / ($t1 - $t0) / 1e6))")" >>"$OUT/curl.tsv"
  done
  log "curl MB/s: $(tr '\t\n' ' ;' <"$OUT/curl.tsv")"
fi

# One build into an empty cache and destination: its time, its files checked, its phase times from --json events
# (VAULT_FETCH_THREADS=$FETCH_THREADS when that is set).
build_once() { # <variant> <round> [--streams N]
  variant=$1 round=$2
  shift 2
  rm -rf "$WORK/build-cache" "$WORK/build-out" "$WORK/hub.lock.json"
  t0=$(now)
  # python3's getrusage of children: the peak RSS of the largest process (node under the runtime's sh), in KiB.
  python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[2:])
open(sys.argv[1], "a").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\n")
sys.exit(r.returncode)' "$WORK/rss-$variant-$round" env ${FETCH_THREADS:+VAULT_FETCH_THREADS=$FETCH_THREADS} $VB --json --cache-dir "$WORK/build-cache" "$@" build "$WORK/hub.yaml" --out "$WORK/build-out" --runtime none >"$OUT/build-$variant-$round.jsonl" 2>>"$OUT/run.log" ||
    { log "build $variant failed:"; tail -5 "$OUT/build-$variant-$round.jsonl" | tee -a "$OUT/run.log"; exit 1; }
  dt=$(python3 -c "print(round($(now) - $t0, 3))")
  python3 - "$WORK/model-bundle/bundle.json" "$WORK/build-out/bundle.json" <<'PY'
import json, sys
want = {a["meta"]["path"]: a["digest"] for a in json.load(open(sys.argv[1]))["artifacts"] if a["kind"] == "hf"}
got = {a["meta"]["path"]: a["digest"] for a in json.load(open(sys.argv[2]))["artifacts"] if a["kind"] == "hf"}
sys.exit(0 if want == got else f"build: the bundle's files differ from the model's: {sorted(set(want.items()) ^ set(got.items()))[:4]}")
PY
  python3 - "$OUT/build-$variant-$round.jsonl" "$variant" "$round" "$t0" "$dt" >>"$OUT/phases.tsv" <<'PY'
import datetime, json, sys
path, variant, rnd, t0, dt = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
ev = [json.loads(l) for l in open(path) if l.startswith("{")]
ts = lambda e: datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
marks = [(e["phase"], ts(e)) for e in ev if e.get("type") == "phase"] + [("end", t0 + dt)]
row = [("start", round(marks[0][1] - t0, 3))] + [(p, round(marks[i + 1][1] - t, 3)) for i, (p, t) in enumerate(marks[:-1])]
dl = [ts(e) for e in ev if e.get("type") == "download:done" and not e.get("cached")]
if dl: row.append(("last-download-done", round(max(dl) - t0, 3)))
print("\t".join([variant, rnd] + [f"{p}={s}" for p, s in row]))
PY
  printf '%s\t%s\t%s\n' "$variant" "$round" "$dt" >>"$OUT/times.tsv"
  printf '%s\t%s\t%s\n' "$variant" "$round" "$(cat "$WORK/rss-$variant-$round")" >>"$OUT/rss.tsv"
  log "round $round: vault-bundle build ($variant) ${dt} s: $(tail -1 "$OUT/phases.tsv" | cut -f3- | tr '\t' ' ')"
}

# 4. Each client REPEATS times, taking turns, each into an empty destination; every file checked after.
: >"$OUT/times.tsv"
: >"$OUT/phases.tsv"
: >"$OUT/rss.tsv"
r=1
while [ "$r" -le "$REPEATS" ]; do
  FETCH_THREADS=
  build_once build "$r"
  for n in $STREAMS_ALSO; do build_once "build-streams$n" "$r" --streams "$n"; done
  for n in $THREADS_ALSO; do FETCH_THREADS=$n; build_once "build-threads$n" "$r"; done
  FETCH_THREADS=
  if [ "$SNAPSHOT" = 1 ]; then
    rm -rf "$WORK/hf-cache"
    HF_ENDPOINT="$ENDPOINT" HF_HUB_OFFLINE=0 HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_ENABLE_HF_TRANSFER=0 \
    python3 - "$WORK/model-bundle/bundle.json" "$WORK/hf-cache" "$REPO" "$COMMIT" "$r" >>"$OUT/times.tsv" 2>>"$OUT/run.log" <<'PY'
import hashlib, json, os, sys, time
from huggingface_hub import snapshot_download
index, cache, repo, commit, r = sys.argv[1:6]
t0 = time.time()
path = snapshot_download(repo, revision=commit, cache_dir=cache, max_workers=8)
dt = time.time() - t0
for a in json.load(open(index))["artifacts"]:
    if a["kind"] != "hf": continue
    h = hashlib.sha256()
    with open(os.path.join(path, a["meta"]["path"]), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""): h.update(chunk)
    if "sha256:" + h.hexdigest() != a["digest"]: sys.exit(f"snapshot_download: {a['meta']['path']} differs")
print(f"snapshot_download\t{r}\t{dt:.3f}")
PY
    log "round $r: snapshot_download(max_workers=8) $(tail -1 "$OUT/times.tsv" | cut -f3) s"
  fi
  r=$((r + 1))
done

python3 - "$OUT/times.tsv" "$OUT/site-build-vs-snapshot.json" "$SIZE_MIB" "$SHARDS" "$LATENCY_MS" "$MBPS" "$PROXY" <<'PY'
import json, platform, sys, time
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for who, r, s in rows: by.setdefault(who, []).append(float(s))
best = {k: min(v) for k, v in by.items()}
out = {"schema": "vault-bundle-bench/site-build-vs-snapshot/v1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "host": platform.node(), "params": {"size_mib": int(sys.argv[3]), "shards": int(sys.argv[4]), "latency_ms": float(sys.argv[5]),
       "mb_per_s_per_response": float(sys.argv[6]), "proxy": sys.argv[7] == "1"}, "seconds": by, "best": best}
try:
    import huggingface_hub
    out["huggingface_hub"] = huggingface_hub.__version__
except ImportError:
    pass
try:
    out["curl_mb_per_s"] = [l.rstrip("\n").split("\t") for l in open(sys.argv[1].replace("times.tsv", "curl.tsv")) if l.strip()]
except OSError:
    pass
try:
    rss = {}
    for l in open(sys.argv[1].replace("times.tsv", "rss.tsv")):
        if l.strip():
            who, _, kib = l.rstrip("\n").split("\t")
            rss[who] = max(rss.get(who, 0), round(int(kib) / 1024, 1))
    out["peak_rss_mib"] = rss
except (OSError, ValueError):
    pass
if "snapshot_download" in best:
    out["ratio_snapshot_over_build"] = round(best["snapshot_download"] / best["build"], 3)
    out["ratios_by_variant"] = {k: round(best["snapshot_download"] / v, 3) for k, v in best.items() if k.startswith("build")}
    out["target"] = ">= 1.5"
    out["pass"] = out["ratio_snapshot_over_build"] >= 1.5
json.dump(out, open(sys.argv[2], "w"), indent=2)
print(json.dumps(out, indent=2))
PY
