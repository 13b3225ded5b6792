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
if [ -n "$keygiven" ]; then
  keyhint="give the release key: the public key file (gpg --export [--armor] <fingerprint>), brought to the box separately from the bundle"
  [ -n "$key" ] || fail 64 "--key needs the release key file" "$keyhint"
  { [ -f "$key" ] && [ -r "$key" ]; } || fail 64 "cannot read the release key $key" "$keyhint"
  [ "$(wc -c <"$key")" -le 1048576 ] || fail 64 "$key is too large to be an OpenPGP key" "$keyhint"
  command -v gpgv >/dev/null 2>&1 || fail 4 "--key: gpgv is not installed, so the signature cannot be checked before the carried runtime runs; nothing from this bundle was run" "install gpgv (Debian and Ubuntu: the gpgv package, which apt itself depends on), then run this again"
  [ -f "$here/SHA256SUMS.asc" ] || fail 4 "UNSIGNED: SHA256SUMS.asc: missing; the bundle is not signed, and --key requires a signature by that key" "do not install from this copy: get the signed bundle from the release engineer"
  new_tmp any || fail 5 "cannot make a temp folder in ${TMPDIR:-/tmp}, ${HOME:-(no HOME)}, /dev/shm or /var/tmp for the key check" "$tmphint"
  kdir=$made
  made=""
  rc=0
  keyring "$key" "$kdir" || rc=$?
  [ "$rc" -ne 2 ] || fail 64 "$key is a secret key: the box checks with the release public key" "export it with gpg --export --armor <fingerprint>; the secret key never goes to the box"
  [ "$rc" -eq 0 ] || fail 64 "$key is not an OpenPGP public key (armoured or binary)" "$keyhint"
  # One read of SHA256SUMS: the bytes gpgv checks are the bytes the runtime is then checked against.
  cp "$here/SHA256SUMS" "$kdir/SHA256SUMS" || fail 4 "cannot read $here/SHA256SUMS" "copy the bundle again"
  if ! gpgv --homedir "$kdir" --keyring "$kdir/release.gpg" "$here/SHA256SUMS.asc" "$kdir/SHA256SUMS" >"$kdir/gpgv.txt" 2>&1; then
    sed 's/^/  /' "$kdir/gpgv.txt" >&2
    fail 4 "SIGNATURE_INVALID: SHA256SUMS.asc does not verify against the release key $key (gpgv's words above); nothing from this bundle was run" "do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again"
  fi
  sums="$kdir/SHA256SUMS"
fi
if ! grep -Eq '^[0-9a-f]{64}  runtime/node$' "$sums" || ! grep -Eq '^[0-9a-f]{64}  runtime/vault-bundle[.]cjs$' "$sums"; then
  fail 4 "SHA256SUMS does not list the carried runtime (runtime/node, runtime/vault-bundle.cjs); copy the bundle again"
fi
if ! grep -E '^[0-9a-f]{64}  (runtime/[^/]+|verify|vault-bundle)$' "$sums" | (cd "$here" && sha256sum --strict --quiet -c - >&2); then
  fail 4 "the carried runtime does not match SHA256SUMS; copy the bundle again"
fi
node="$here/runtime/node"
if ! "$node" --version >/dev/null 2>&1; then
  new_tmp exec || fail 5 "no folder to run the carried node from: ${TMPDIR:-/tmp}, ${HOME:-(no HOME)}, /dev/shm and /var/tmp are not writable or do not let programs run (noexec)" "$tmphint"
  ndir=$made
  made=""
  cp "$node" "$ndir/node" 2>"$ndir/cp.txt" || fail 5 "cannot copy runtime/node to $ndir: $(cat "$ndir/cp.txt")" "node needs about 100 MB there; $tmphint"
  chmod 700 "$ndir/node"
  hex=$(grep -E '^[0-9a-f]{64}  runtime/node$' "$sums" | cut -c1-64)
  # No sed over the path: a folder name may hold any character, its delimiter included.
  if ! printf '%s  node\n' "$hex" | (cd "$ndir" && sha256sum --strict --quiet -c - >/dev/null 2>&1); then
    fail 4 "the copied runtime in $ndir does not match SHA256SUMS" "copy the bundle again; if this repeats, $tmphint"
  fi
  node="$ndir/node"
fi
set +e
running=1
