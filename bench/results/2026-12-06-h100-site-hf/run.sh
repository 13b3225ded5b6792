#!/bin/sh
# On the GPU box (Ubuntu 24.04, no Node, no network; python3 with torch, transformers, huggingface_hub):
#   sh bench/box/site-hf.sh <bundle folder with hf models and the carried runtime>
# serve runs from the bundle's carried runtime on the box's loopback; python's huggingface_hub.snapshot_download
# (max_workers=8) and transformers' from_pretrained(repo_id) read every bundled model through HF_ENDPOINT, each
# file checked against the bundle's sha256. Results (JSON and the logs) go to $OUT (default ./site-hf-out).
set -eu
BUNDLE=$(cd "${1:?usage: site-hf.sh <bundle folder>}" && pwd)
OUT=${OUT:-./site-hf-out}
PORT=${PORT:-18080}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cd "$BUNDLE"
sh ./vault-bundle serve . --listen "127.0.0.1:$PORT" --access-log "$OUT/access.jsonl" >"$OUT/serve.out" 2>"$OUT/serve.err" &
SERVE_PID=$!
i=0
until grep -q '^serving' "$OUT/serve.out" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$SERVE_PID" 2>/dev/null; then echo "serve did not start" >&2; cat "$OUT/serve.err" >&2; exit 1; fi
  sleep 0.5
done

HF_ENDPOINT="http://127.0.0.1:$PORT/hf" HF_HUB_OFFLINE=0 HF_HOME="$WORK/hf" HF_HUB_DISABLE_TELEMETRY=1 \
python3 - "$BUNDLE/bundle.json" "$OUT/site-hf.json" <<'PY' 2>&1 | tee "$OUT/python.log"
import hashlib, json, os, sys, time
from huggingface_hub import snapshot_download
index = json.load(open(sys.argv[1]))
repos = {}
for a in index["artifacts"]:
    m = a.get("meta") or {}
    if a["kind"] == "hf" and m.get("type", "model") == "model":
        repos.setdefault(m["repo"], {"commit": m["commit"], "files": {}})["files"][m["path"]] = a["digest"][7:]
results = []
for repo, r in repos.items():
    t0 = time.time()
    path = snapshot_download(repo, max_workers=8)
    dt = time.time() - t0
    bad = []
    size = 0
    for rel, want in r["files"].items():
        h = hashlib.sha256()
        with open(os.path.join(path, rel), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 24), b""):
                h.update(chunk)
        size += os.path.getsize(os.path.join(path, rel))
        if h.hexdigest() != want:
            bad.append(rel)
    row = {"repo": repo, "commit": r["commit"], "snapshot": os.path.basename(path), "files": len(r["files"]), "bytes": size,
           "snapshot_download_s": round(dt, 3), "mismatched": bad}
    try:
        from transformers import AutoConfig, AutoModel
        t1 = time.time()
        AutoConfig.from_pretrained(repo)
        model = AutoModel.from_pretrained(repo)
        row["from_pretrained_s"] = round(time.time() - t1, 3)
        row["parameters"] = sum(p.numel() for p in model.parameters())
    except Exception as e:  # a repo that is not a transformers model (or a dataset) is still a download
        row["from_pretrained_error"] = f"{type(e).__name__}: {e}"[:300]
    results.append(row)
    print(json.dumps(row))
json.dump({"schema": "vault-bundle-bench/site-hf/v1", "bundle": index["name"] + " " + index["version"], "results": results},
          open(sys.argv[2], "w"), indent=2)
ok = all(not r["mismatched"] and r["snapshot"] == r["commit"] for r in results)
sys.exit(0 if ok and results else 1)
PY
kill -INT "$SERVE_PID"
wait "$SERVE_PID" && echo "serve drained and exited 0" | tee -a "$OUT/python.log"
