#!/bin/bash
# Issue #7 on the real box: a FAT32-style split bundle with its carried runtime (no node on the box), probe,
# verify from parts, a damaged part, install from parts, a delta over it, then (#6) a 2.6 GB install timed.
set -u
cd "$(dirname "$0")"
W=/tmp/stick; mkdir -p $W
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; uname -r; . /etc/os-release; echo "$PRETTY_NAME"; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
which node || echo "no node on the box"
tar -C $W -xJf field.tar.xz; cd $W/base; ls
echo "== probe (before install)"; sh ./vault-bundle probe --out $OUT/box-probe-before.json; echo "rc=$?"
echo "== ./verify from parts, no network"; s=$(t); unshare -n sh ./verify; echo "rc=$? ms=$(ms $s)"
echo "== a damaged part"; cp -r $W/base $W/damaged; printf '\xff' | dd of=$W/damaged/blobs.tar.0002 bs=1 seek=4096 conv=notrunc 2>/dev/null
sh $W/damaged/verify; echo "rc=$?"; rm $W/damaged/blobs.tar.0003; sh $W/damaged/verify; echo "rc=$?"; rm -rf $W/damaged
echo "== the stick without exec bits"; chmod -x runtime/node; sh ./verify -q; echo "rc=$?"; chmod +x runtime/node
echo "== install from parts, no network"; s=$(t); unshare -n sh ./vault-bundle install .; echo "rc=$? ms=$(ms $s)"
echo "== install again"; unshare -n sh ./vault-bundle install .; echo "rc=$?"
echo "== delta alone"; unshare -n sh ./vault-bundle verify $W/delta; echo "rc=$?"
echo "== delta with its base"; unshare -n sh ./vault-bundle verify $W/delta --base .; echo "rc=$?"
echo "== install the delta (the journal finds the base)"; unshare -n sh ./vault-bundle install $W/delta; echo "rc=$?"; cat /opt/vault-ai/etc/release-notes.txt
echo "== probe (after install)"; sh ./vault-bundle probe --out $OUT/box-probe-after.json; echo "rc=$?"
cp /var/lib/vault-bundle/journal.jsonl $OUT/journal.jsonl
echo "== #6: a 2.6 GB bundle built on the box from a local model folder, then installed (time split)"
mkdir -p /tmp/big/model; s=$(t)
python3 - <<'PY'
import os, json
d = '/tmp/big/model'
for i in range(10):
    with open(f'{d}/model-{i:05d}-of-00010.safetensors', 'wb') as f:
        hdr = json.dumps({'w': {'dtype': 'U8', 'shape': [256 * 2**20 - 64], 'data_offsets': [0, 256 * 2**20 - 64]}}).encode().ljust(56)
        f.write(len(hdr).to_bytes(8, 'little') + hdr)
        for _ in range(4): f.write(os.urandom(64 * 2**20 - 16))
json.dump({'model_type': 'big-random'}, open(f'{d}/config.json', 'w'))
PY
du -sh /tmp/big/model; echo "generated ms=$(ms $s)"
cat > /tmp/big/big.yaml <<Y
name: big-install
version: 0.1.0
target: {os: ubuntu-24.04, arch: amd64, python: "3.12"}
hf:
  models:
    - repo: vault-ai/big-random
      local: /tmp/big/model
Y
N="runtime/node runtime/vault-bundle.cjs"
s=$(t); unshare -n $N --cache-dir /tmp/big/cache build /tmp/big/big.yaml --out /tmp/big/bundle --runtime none; echo "build rc=$? ms=$(ms $s)"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
s=$(t); unshare -n $N --json install /tmp/big/bundle > $OUT/big-install.jsonl; echo "install rc=$? ms=$(ms $s)"
unshare -n $N install /tmp/big/bundle; echo "again rc=$?"
tail -1 $OUT/big-install.jsonl | head -c 3000; echo
echo "== smoke (short): inventory, models, inference on the GPU"
s=$(t); sh ./vault-bundle smoke --bundle . --netns --only gpu.inventory,models.load,inference.transformers --out /tmp/smoke; echo "rc=$? ms=$(ms $s)"
cp /tmp/smoke/results.json $OUT/smoke-results.json 2>/dev/null
df -h / /tmp | cat
