#!/bin/bash
# The merged tool of session 3 on the real box: the sh entry points check the signature with the box's own
# gpgv before anything from runtime/ runs; tampered, unsigned and cluttered copies; install twice; short smoke.
set -u
cd "$(dirname "$0")"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
W=/tmp/stick; mkdir -p $W
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; . /etc/os-release; echo "$PRETTY_NAME"; gpgv --version | head -1; which node || echo "no node on the box"
tar -C $W -xJf fin2.tar.xz; cd $W/bd
echo "== ./verify --key (no network)"; s=$(t); unshare -n ./verify --key ../pub.asc; echo "rc=$? ms=$(ms $s)"
echo "== ./verify . --key (its own folder)"; ./verify . --key ../pub.asc | tail -1; echo "rc=$?"
echo "== tampered runtime, SHA256SUMS line updated, signature kept"; cp -r $W/bd $W/evil
printf 'console.log("FAKE RUNTIME RAN: OK, signature valid")\n' > $W/evil/runtime/vault-bundle.cjs
h=$(sha256sum $W/evil/runtime/vault-bundle.cjs | cut -d' ' -f1); sed -i "s#^[0-9a-f]*  runtime/vault-bundle.cjs\$#$h  runtime/vault-bundle.cjs#" $W/evil/SHA256SUMS
sh $W/evil/verify --key ../pub.asc; echo "rc=$?"
echo "== without the key the wrapper trusts SHA256SUMS (documented): "; sh $W/evil/verify | tail -1; echo "rc=$?"; rm -rf $W/evil
echo "== unsigned copy with --key"; cp -r $W/bd $W/uns; rm $W/uns/SHA256SUMS.asc; sh $W/uns/verify --key ../pub.asc; echo "rc=$?"; rm -rf $W/uns
echo "== clutter: .DS_Store and a left results file"; cp -r $W/bd $W/clut; touch $W/clut/.DS_Store; echo x > $W/clut/notes.txt; sh $W/clut/verify --key ../pub.asc; echo "rc=$?"; rm -rf $W/clut
echo "== install --dry-run"; ./vault-bundle install . --key ../pub.asc --dry-run | tail -6; echo "rc=$?"; ls /var/lib/vault-bundle 2>&1 | head -2
echo "== install --key (no network)"; s=$(t); unshare -n ./vault-bundle install . --key ../pub.asc | tail -5; echo "rc=$? ms=$(ms $s)"
echo "== install again"; s=$(t); unshare -n ./vault-bundle install . --key ../pub.asc | tail -3; echo "rc=$? ms=$(ms $s)"
echo "== smoke (short), results beside the bundle by default"; s=$(t); ./vault-bundle smoke --bundle . --netns --only gpu.inventory,python.env,gpu.matmul,nccl.allreduce,models.load,inference.transformers | tail -9; echo "rc=$? ms=$(ms $s)"
echo "== verify after smoke (nothing was written into the bundle)"; ./verify --key ../pub.asc | tail -1; echo "rc=$?"
cp ../smoke-results/results.json ../smoke-results/junit.xml ../smoke-results/summary.txt $OUT/ 2>/dev/null; cp /var/lib/vault-bundle/journal.jsonl $OUT/
