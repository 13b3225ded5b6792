here=$(cd "$(dirname "$0")" && pwd)
kdir=""
ndir=""
made=""
running=""
cleanup() {
  for d in "$kdir" "$ndir" "$made"; do [ -z "$d" ] || rm -rf "$d"; done
  kdir=""
  ndir=""
  made=""
}
# Ctrl-C while node is being copied (100 MB) or runs must not leave the copy behind in $TMPDIR.
# Once node runs, it reports an interruption itself.
stop() {
  [ -n "$running" ] || printf '%s: interrupted\n' "$who" >&2
  exit "$1"
}
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
fail() {
  printf '%s: %s\n' "$who" "$2" >&2
  [ $# -lt 3 ] || printf 'hint: %s\n' "$3" >&2
  exit "$1"
}
tmphint="set TMPDIR to a writable folder that allows running programs, e.g. TMPDIR=/root sh ./$who"
# A private folder in $TMPDIR (default /tmp), else $HOME, /dev/shm or /var/tmp: the first that is writable
# and, for "exec", lets a program run (a noexec /tmp cannot run the node copy). Sets $made.
new_tmp() {
  first=${TMPDIR:-/tmp}
  for d in "$first" "${HOME:-}" /dev/shm /var/tmp; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    made=$(mktemp -d "$d/vault-bundle.XXXXXX" 2>/dev/null) || { made=""; continue; }
    if [ "$1" = exec ] && ! { printf '#!/bin/sh\n' >"$made/probe" && chmod 700 "$made/probe" && "$made/probe"; } 2>/dev/null; then
      rm -rf "$made"
      made=""
      continue
    fi
    [ "$d" = "$first" ] || printf '%s: note: %s is not writable%s; using %s\n' "$who" "$first" "$(if [ "$1" = exec ]; then echo ' or does not let programs run (noexec)'; fi)" "$d" >&2
    return 0
  done
  return 1
}
# The release key as a binary keyring for gpgv: an armoured key (gpg --export --armor) is de-armoured with sh
# and base64 alone (RFC 9580 6.2: header lines up to the first blank line, base64, then the "=" CRC-24 line),
# one block at a time; a binary key is taken as it is. 2: a secret key (gpgv reads none); 1: not a key.
keyring() {
  out=$2/release.gpg
  # Appends: a trust policy folder holds several keys (the caller empties release.gpg first).
  if ! grep -q -e '-----BEGIN PGP ' "$1"; then
    case $(od -An -tx1 -N1 "$1" | tr -d ' \n') in
      98|99|9a|9b|c6) cat "$1" >>"$out"; return 0 ;;
      94|95|96|97|c5) return 2 ;;
      *) return 1 ;;
    esac
  fi
  if grep -q -e '-----BEGIN PGP PRIVATE KEY BLOCK-----' "$1"; then return 2; fi
  cr=$(printf '\r')
  state=out
  blocks=0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    case $state in
      out) if [ "$line" = '-----BEGIN PGP PUBLIC KEY BLOCK-----' ]; then state=head; : >"$2/b64"; fi ;;
      head) [ -n "$line" ] || state=body ;;
      body)
        case $line in
          '-----END PGP PUBLIC KEY BLOCK-----') base64 -d "$2/b64" >>"$out" 2>/dev/null || return 1; blocks=$((blocks + 1)); state=out ;;
          =*) ;;
          *) printf '%s\n' "$line" >>"$2/b64" ;;
        esac ;;
    esac
  done <"$1"
  [ "$blocks" -gt 0 ]
}
# `sha256sum --strict --quiet -c -` over "<hex>  <name>" lines on stdin, in the current folder: only failures are
# printed, exit 1 when any file differs or cannot be read. The carried node is 100 MB and every entry point checks
# it: where python3 is installed, its hashlib (OpenSSL, with the CPU's SHA instructions) reads it four times faster
# than coreutils (0.1 s instead of 0.4 s a call). python3 runs isolated (-I: no PYTHON* variable, no user site);
# any trouble of its own (exit 3, or 126/127: not there, cannot run) falls back to sha256sum, which every box has.
sums_py='import hashlib, sys
bad = n = 0
try:
    for line in sys.stdin.read().splitlines():
        if not line:
            continue
        n += 1
        want, name = line[:64], line[66:]
        h = hashlib.sha256()
        try:
            with open(name, "rb") as f:
                for b in iter(lambda: f.read(1 << 20), b""):
                    h.update(b)
        except OSError as e:
            print("sha256sum: %s: %s" % (name, e.strerror))
            print("%s: FAILED open or read" % name)
            bad = 1
            continue
        if h.hexdigest() != want:
            print("%s: FAILED" % name)
            bad = 1
except Exception:
    sys.exit(3)
if n == 0:
    print("sha256sum: -: no properly formatted checksum lines found")
    bad = 1
sys.exit(bad)'
sums_check() {
  list=$(cat)
  if command -v python3 >/dev/null 2>&1; then
    prc=0
    printf '%s\n' "$list" | python3 -I -c "$sums_py" || prc=$?
    case $prc in 3 | 126 | 127) ;; *) return "$prc" ;; esac
  fi
  printf '%s\n' "$list" | sha256sum --strict --quiet -c -
}
