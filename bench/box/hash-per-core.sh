#!/bin/sh
# One core's SHA-256 on the box: node (the carried runtime, the same read-and-update loop as verify's threads, at
# several read sizes) against sha256sum and openssl over one warm 1 GiB file, 3 rounds. Issue #14: is verify's gap
# to `xargs -P16 sha256sum` the hash per core or the threads' tail? From the repository root, carry: .carry.
set -u
W=$(mktemp -d /var/tmp/hpc.XXXXXX)
tar -C "$W" -xJf .carry/rt.tar.xz
N="$W/runtime/node"
lscpu | grep -E 'Model name|^L1d|^L2|^L3|Thread\(s\) per core|^CPU\(s\)'
"$N" -p '"node " + process.version + ", openssl " + process.versions.openssl'
sha256sum --version | head -1; ldd "$(command -v sha256sum)" | grep -c crypto | sed 's/^/sha256sum links libcrypto: /'
openssl version
head -c 1073741824 /dev/urandom >"$W/f"
cat "$W/f" >/dev/null
JS='const fs=require("fs"),c=require("crypto");const k=+process.argv[2],f=process.argv[1];const b=Buffer.allocUnsafe(k*1024);const h=c.createHash("sha256");const fd=fs.openSync(f,"r");let n,p=0;while((n=fs.readSync(fd,b,0,b.length,p))>0){h.update(n===b.length?b:b.subarray(0,n));p+=n}console.log(h.digest("hex").slice(0,12))'
t() { s=$(date +%s%N); "$@" >/dev/null; echo "$(( ($(date +%s%N) - s) / 1000000 ))"; }
for r in 1 2 3; do
  echo "round $r: sha256sum $(t sha256sum "$W/f") ms, openssl $(t openssl dgst -sha256 "$W/f") ms, node-32k $(t "$N" -e "$JS" "$W/f" 32) ms, node-128k $(t "$N" -e "$JS" "$W/f" 128) ms, node-1m $(t "$N" -e "$JS" "$W/f" 1024) ms, node-e0 $(t "$N" -e 0) ms"
done
rm -rf "$W"
