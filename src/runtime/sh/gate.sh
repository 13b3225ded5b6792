key=""
keygiven=""
reqsig=""
prev=""
# sign's --key is the secret key (never on the box): only the commands that check a signature are gated here.
[ "$sub" = sign ] || for a in "$@"; do
  [ "$prev" != --key ] || key=$a
  case $a in
    --key) keygiven=1 ;;
    --key=*) keygiven=1; key=${a#--key=} ;;
    --require-signature) reqsig=1 ;;
  esac
  prev=$a
done
if [ -n "$reqsig" ] && [ -z "$keygiven" ]; then
  fail 64 "--require-signature needs --key <release key file>: a signature proves nothing without the key it must be by" "add --key with the release key (the public key, brought to the box separately from the bundle)"
fi
sums="$here/SHA256SUMS"
# Without --key, the box trust policy decides as it does for the runtime: its release keys, and with
# "require-signature: true" in policy.yaml an unsigned bundle is refused. A signed bundle is always checked.
tdir=${VAULT_BUNDLE_TRUST_DIR:-/etc/vault-ai/trust}
usekeys=""
keywho="the release key $key"
if [ -n "$keygiven" ]; then
  keyhint="give the release key: the public key file (gpg --export [--armor] <fingerprint>), brought to the box separately from the bundle"
  [ -n "$key" ] || fail 64 "--key needs the release key file" "$keyhint"
  { [ -f "$key" ] && [ -r "$key" ]; } || fail 64 "cannot read the release key $key" "$keyhint"
  [ "$(wc -c <"$key")" -le 1048576 ] || fail 64 "$key is too large to be an OpenPGP key" "$keyhint"
  usekeys=1
elif [ -d "$tdir" ]; then
  polkeys=""
  for f in "$tdir"/*.asc "$tdir"/*.gpg; do [ ! -f "$f" ] || polkeys=1; done
  polreq=""
  if [ -f "$tdir/policy.yaml" ] && grep -Eq '^require-signature:[[:space:]]*true[[:space:]]*$' "$tdir/policy.yaml"; then polreq=1; fi
  [ -z "$polreq" ] || [ -n "$polkeys" ] || fail 64 "TRUST_POLICY: $tdir/policy.yaml requires a signature, but $tdir holds no release key (*.asc, *.gpg)" "fix the box's trust policy in $tdir"
  if [ -n "$polkeys" ] && { [ -n "$polreq" ] || [ -f "$here/SHA256SUMS.asc" ]; }; then
    usekeys=1
    keywho="the box trust policy ($tdir)"
  fi
fi
if [ -n "$usekeys" ]; then
  command -v gpgv >/dev/null 2>&1 || fail 4 "${keygiven:+--key: }gpgv is not installed, so the signature cannot be checked before the carried runtime runs; nothing from this bundle was run" "install gpgv (Debian and Ubuntu: the gpgv package, which apt itself depends on), then run this again"
  [ -f "$here/SHA256SUMS.asc" ] || fail 4 "UNSIGNED: SHA256SUMS.asc: missing; the bundle is not signed, and $(if [ -n "$keygiven" ]; then echo '--key requires a signature by that key'; else echo "the box trust policy ($tdir) requires a signature"; fi)" "do not install from this copy: get the signed bundle from the release engineer"
  new_tmp any || fail 5 "cannot make a temp folder in ${TMPDIR:-/tmp}, ${HOME:-(no HOME)}, /dev/shm or /var/tmp for the key check" "$tmphint"
  kdir=$made
  made=""
  : >"$kdir/release.gpg"
  if [ -n "$keygiven" ]; then
    rc=0
    keyring "$key" "$kdir" || rc=$?
    [ "$rc" -ne 2 ] || fail 64 "$key is a secret key: the box checks with the release public key" "export it with gpg --export --armor <fingerprint>; the secret key never goes to the box"
    [ "$rc" -eq 0 ] || fail 64 "$key is not an OpenPGP public key (armoured or binary)" "$keyhint"
  else
    for f in "$tdir"/*.asc "$tdir"/*.gpg; do
      [ -f "$f" ] || continue
      keyring "$f" "$kdir" || fail 64 "TRUST_POLICY: $f is not an OpenPGP public key (armoured or binary)" "fix the box's trust policy in $tdir"
    done
  fi
  # One read of SHA256SUMS: the bytes gpgv checks are the bytes the runtime is then checked against.
  cp "$here/SHA256SUMS" "$kdir/SHA256SUMS" || fail 4 "cannot read $here/SHA256SUMS" "copy the bundle again"
  # gpgv exits 0 for a good signature by a key that has expired (EXPKEYSIG) or is revoked (REVKEYSIG): apt counts
  # such a signer as worthless (methods/gpgv.cc), and so do we. A GOODSIG status line is what proves the signer.
  grc=0
  gpgv --homedir "$kdir" --status-fd 1 --keyring "$kdir/release.gpg" "$here/SHA256SUMS.asc" "$kdir/SHA256SUMS" >"$kdir/status.txt" 2>"$kdir/gpgv.txt" || grc=$?
  if [ "$grc" -ne 0 ] || ! grep -q '^\[GNUPG:\] GOODSIG ' "$kdir/status.txt"; then
    # gpgv quotes the signer's user ID, which comes with the signature: no control byte reaches the terminal.
    LC_ALL=C tr -d '\000-\010\013-\037\177' <"$kdir/gpgv.txt" | sed 's/^/  /' >&2
    refused=$(LC_ALL=C grep -Eo '^\[GNUPG:\] (EXPKEYSIG|REVKEYSIG|EXPSIG) ' "$kdir/status.txt" | head -n 1 | cut -d ' ' -f 2)
    if [ -n "$refused" ]; then
      fpr=$(LC_ALL=C sed -n 's/^\[GNUPG:\] VALIDSIG .* \([0-9A-F]\{40,64\}\)$/\1/p' "$kdir/status.txt" | head -n 1)
      case $refused in
        EXPKEYSIG)
          ts=$(LC_ALL=C sed -n 's/^\[GNUPG:\] KEYEXPIRED \([0-9]*\).*/\1/p' "$kdir/status.txt" | head -n 1)
          when=$(date -u -d "@$ts" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || echo "$ts")
          why="the release key ${fpr:-} expired on $when (gpgv: EXPKEYSIG); a key must be valid when it is checked, not only when it signed" ;;
        REVKEYSIG) why="the release key ${fpr:-} was revoked by its owner (gpgv: REVKEYSIG)" ;;
        *) why="the signature by ${fpr:-the release key} has expired (gpgv: EXPSIG)" ;;
      esac
      fail 4 "SIGNATURE_REFUSED: SHA256SUMS.asc is signed by $keywho, but $why; nothing from this bundle was run" "ask the release engineer to sign the bundle again with a current key (vault-bundle sign); if the key's expiry was extended, bring the updated public key to this box"
    fi
    fail 4 "SIGNATURE_INVALID: SHA256SUMS.asc does not verify against $keywho (gpgv's words above); nothing from this bundle was run" "do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again"
  fi
  sums="$kdir/SHA256SUMS"
fi
[ -f "$sums" ] || fail 4 "SHA256SUMS is missing from $here: this is not a whole bundle (every bundle lists its files there)" "copy the bundle again from the release medium, the whole folder; nothing from it was run"
[ -r "$sums" ] || fail 4 "cannot read $sums" "run it as a user who can read the bundle folder"
for f in node 'vault-bundle[.]cjs' 'boot[.]cjs'; do
  grep -Eq "^[0-9a-f]{64}  runtime/$f\$" "$sums" || fail 4 "SHA256SUMS does not list the carried runtime (runtime/node, runtime/vault-bundle.cjs, runtime/boot.cjs); copy the bundle again"
done
# boot.cjs runs the script from its V8 code cache when the file is there: a code cache is code, and must be listed.
if [ -e "$here/runtime/vault-bundle.cache" ] && ! grep -Eq '^[0-9a-f]{64}  runtime/vault-bundle[.]cache$' "$sums"; then
  fail 4 "runtime/vault-bundle.cache is not listed in SHA256SUMS: the carried runtime was changed; nothing from this bundle was run" "copy the bundle again from the release medium"
fi
# Only names made of plain characters are checked here (the runtime's own are): sha256sum prints a failing
# name as it is, and a crafted line's name with ESC [2J or a carriage return must never reach the terminal.
# Everything else in SHA256SUMS is checked by the runtime next, which escapes what it prints.
rtout=$(LC_ALL=C grep -E '^[0-9a-f]{64}  (runtime/[A-Za-z0-9._+-]+|verify|vault-bundle)$' "$sums" | (cd "$here" && sums_check 2>&1)) || {
  printf '%s\n' "$rtout" | LC_ALL=C tr -d '\000-\010\013-\037\177' >&2
  fail 4 "the carried runtime does not match SHA256SUMS; copy the bundle again"
}
node="$here/runtime/node"
if ! "$node" --version >/dev/null 2>&1; then
  new_tmp exec || fail 5 "no folder to run the carried node from: ${TMPDIR:-/tmp}, ${HOME:-(no HOME)}, /dev/shm and /var/tmp are not writable or do not let programs run (noexec)" "$tmphint"
  ndir=$made
  made=""
  cp "$node" "$ndir/node" 2>"$ndir/cp.txt" || fail 5 "cannot copy runtime/node to $ndir: $(cat "$ndir/cp.txt")" "node needs about 100 MB there; $tmphint"
  chmod 700 "$ndir/node"
  hex=$(grep -E '^[0-9a-f]{64}  runtime/node$' "$sums" | cut -c1-64)
  # No sed over the path: a folder name may hold any character, its delimiter included.
  if ! printf '%s  node\n' "$hex" | (cd "$ndir" && sums_check >/dev/null 2>&1); then
    fail 4 "the copied runtime in $ndir does not match SHA256SUMS" "copy the bundle again; if this repeats, $tmphint"
  fi
  node="$ndir/node"
fi
# verify makes no TLS connection, so node need not load NODE_EXTRA_CA_CERTS as it starts: with that set (as some
# hosts set it for every process), node parses it and its own ~140 root certificates before any script runs,
# ~40-70 ms of a 16 GiB verify's ~1.1 s on the GPU box (bench/results/2026-12-07-h100-verify-noca-s16).
if [ "$sub" = verify ]; then unset NODE_EXTRA_CA_CERTS; fi
set +e
running=1
