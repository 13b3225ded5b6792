#!/usr/bin/env python3
"""Pull a served bundle onto the box: pull-served.py URL DEST [--check].

URL is a site's `vault-bundle serve` (or nginx serving `vault-bundle export --site`): the bundle's files are
under URL/bundle/<path>, listed with their sha256 in URL/bundle/SHA256SUMS (and signed in SHA256SUMS.asc when
the bundle is signed). Every listed file whose copy in DEST lacks that sha256 is fetched to <file>.part,
checked, then renamed into place; a file already right is kept. SHA256SUMS itself is written last, so an
interrupted pull never leaves a folder that claims to be complete. Only the standard library (the box has
Python for Ansible and nothing else). A bearer token comes from $ROLLOUT_URL_TOKEN.

Prints one JSON line: {"changed": bool, "fetched": n, "kept": n}. Exit 1 with the reason on stderr otherwise.
./verify (the next step) still checks every byte and the signature; this only avoids sending what is there.
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

CHUNK = 1 << 20


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    return urllib.request.urlopen(req, timeout=60)


def sha256_of(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def safe(dest, rel):
    """The file's path in DEST; a listed path that leaves DEST (absolute, ..) is refused."""
    if rel.startswith("/") or any(p in ("", ".", "..") for p in rel.split("/")):
        raise ValueError("SHA256SUMS lists a path outside the bundle: %r" % rel)
    return os.path.join(dest, *rel.split("/"))


def fetch(url, path, want, token):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h = hashlib.sha256()
    with get(url, token) as r, open(path + ".part", "wb") as out:
        for chunk in iter(lambda: r.read(CHUNK), b""):
            h.update(chunk)
            out.write(chunk)
    if want is not None and h.hexdigest() != want:
        os.unlink(path + ".part")
        raise ValueError("%s: sha256 %s, SHA256SUMS says %s" % (url, h.hexdigest(), want))
    os.replace(path + ".part", path)


def main(argv):
    base, dest = argv[1].rstrip("/") + "/bundle/", argv[2]
    check = "--check" in argv[3:]
    token = os.environ.get("ROLLOUT_URL_TOKEN", "")
    with get(base + "SHA256SUMS", token) as r:
        sums_bytes = r.read()
    listed = []
    for line in sums_bytes.decode("utf-8").splitlines():
        if line.strip():
            digest, rel = line.split(None, 1)
            listed.append((digest.lower(), rel.lstrip("*")))
    todo = [(d, rel) for d, rel in listed if sha256_of(safe(dest, rel)) != d]
    old_sums = sha256_of(os.path.join(dest, "SHA256SUMS"))
    new_sums = hashlib.sha256(sums_bytes).hexdigest()
    if not check:
        for d, rel in todo:
            fetch(base + urllib.parse.quote(rel), safe(dest, rel), d, token)
        try:
            fetch(base + "SHA256SUMS.asc", os.path.join(dest, "SHA256SUMS.asc"), None, token)
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
        tmp = os.path.join(dest, "SHA256SUMS.part")
        with open(tmp, "wb") as f:
            f.write(sums_bytes)
        os.replace(tmp, os.path.join(dest, "SHA256SUMS"))
    changed = bool(todo) or old_sums != new_sums
    print(json.dumps({"changed": changed, "fetched": len(todo), "kept": len(listed) - len(todo)}))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as e:  # one line for the play's output, never a traceback
        print("error: pull from %s failed: %s" % (sys.argv[1] if len(sys.argv) > 1 else "?", e), file=sys.stderr)
        sys.exit(1)
