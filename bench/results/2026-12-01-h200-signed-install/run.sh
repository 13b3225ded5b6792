#!/bin/bash
# Issue #8 on the real box: a signed FAT32-style bundle (gpgv, ./verify --key, install --key: apt with
# signed-by on Ubuntu's own apt), rollback refused, then the full smoke suite timed (#6's 5-minute target).
set -u
cd "$(dirname "$0")"
W=/tmp/stick; mkdir -p $W
exec > >(tee "$OUT/box-log.txt") 2>&1
t() { date +%s%N; }
ms() { echo $(( ($(t)-$1)/1000000 )); }
date -u; . /etc/os-release; echo "$PRETTY_NAME"; apt-get --version | head -1; which node || echo "no node on the box"
tar -C $W -xJf signed.tar.xz; cd $W/sbase
echo "== gpgv, nothing but the public key"; gpg --dearmor < ../pub.asc > ../pub.gpg; gpgv --keyring ../pub.gpg SHA256SUMS.asc SHA256SUMS; echo "rc=$?"
echo "== sha256sum"; sha256sum --strict --quiet -c SHA256SUMS 2>&1 | head -3; echo "(split: blobs are inside the parts; the listed loose files:)"; grep -v 'blobs/' SHA256SUMS | sha256sum --strict --quiet -c -; echo "rc=$?"
echo "== ./verify --key --require-signature, no network"; unshare -n sh ./verify --key ../pub.asc --require-signature; echo "rc=$?"
echo "== an unsigned copy with --require-signature"; cp -r $W/sbase $W/unsigned; rm $W/unsigned/SHA256SUMS.asc; sh $W/unsigned/verify --key ../pub.asc --require-signature; echo "rc=$?"; rm -rf $W/unsigned
echo "== install --key (apt uses signed-by), no network"; s=$(t); unshare -n sh ./vault-bundle install . --key ../pub.asc; echo "rc=$? ms=$(ms $s)"
dpkg -l tree pciutils | tail -2
echo "== an older version: refused"; unshare -n sh ./vault-bundle install ../old; echo "rc=$?"
echo "== with --allow-downgrade"; unshare -n sh ./vault-bundle install ../old --allow-downgrade; echo "rc=$?"
cp /var/lib/vault-bundle/journal.jsonl $OUT/journal.jsonl
echo "== full smoke, no network"; s=$(t); sh ./vault-bundle smoke --bundle . --netns --out /tmp/smoke; echo "rc=$? ms=$(ms $s)"
cp /tmp/smoke/results.json /tmp/smoke/junit.xml $OUT/ 2>/dev/null; cp /tmp/smoke/thermal.svg $OUT/ 2>/dev/null
