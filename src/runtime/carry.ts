import { createReadStream, existsSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { makeTempDir, removeTempDir, writeFileAtomic } from '../util/fs.js';
import { join } from 'node:path';
import type { Digest } from '../store/digest.js';
import { type Store, hashFile } from '../store/store.js';
import { ManifestError } from '../util/errors.js';
import { TOOL } from '../version.js';
import type { BuildCtx } from '../sources/source.js';
import { type BundledPackage, packagesInScript } from './packages.js';
import { fetchRegistryNode, nodePackage } from './registry.js';

/** One file of the carried runtime, as bundle.json and the SBOM record it. */
export interface RuntimeFile {
  path: string;
  name: string;
  version: string;
  digest: Digest;
  size: number;
  purl: string;
  /** Where the file came from, as far as it is known (the SBOM says no more than this). */
  origin?: string;
  /** The packed script: the npm packages esbuild put into it. */
  packages?: BundledPackage[];
}

export const RUNTIME_NODE = 'runtime/node';
export const RUNTIME_SCRIPT = 'runtime/vault-bundle.cjs';

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/**
 * What the box needs to run vault-bundle with no Node.js installed: a node binary for the target and the tool
 * packed into one script. `host`: this machine's node (its architecture must be the target's); `registry` or
 * `registry@<version>`: the official binary from the npm registry's node-linux-<arch> package (default: this
 * node's version), checked against the registry's integrity; `auto` (the default): host when it fits, else
 * registry. Everything goes through the store, so a rebuild links instead of copying 100 MB.
 */
export async function prepareRuntime(mode: string, targetArch: string, ctx: BuildCtx): Promise<RuntimeFile[]> {
  const { store } = ctx;
  if (mode === 'none') return [];
  const hostFits = ARCH[process.arch] === targetArch && process.platform === 'linux';
  const m = /^(auto|host|registry)(?:@(\d+\.\d+\.\d+))?$/.exec(mode);
  if (!m || (m[2] && m[1] !== 'registry')) {
    throw new ManifestError({ code: 'MANIFEST_FIELD', message: `--runtime ${mode}: expected auto, host, registry[@<version>] or none`, subject: '--runtime', hint: 'e.g. --runtime registry@20.20.2 for another architecture\'s official node' });
  }
  const kind = m[1] === 'auto' ? (hostFits ? 'host' : 'registry') : m[1]!;
  if (kind === 'host' && !hostFits) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `this host's node is ${process.platform}/${process.arch}, the target is linux/${targetArch}`,
      subject: '--runtime',
      hint: 'use --runtime registry (the official node for the target from the npm registry), or --runtime none',
    });
  }
  const v = m[2] ?? process.version.replace(/^v/, '');
  let node: { digest: Digest; size: number };
  let purl: string;
  let origin: string;
  if (kind === 'host') {
    node = await put(store, process.execPath, 0o555);
    // This host's node may be a distro package, nvm's, or a local build: claim no download location.
    purl = `pkg:generic/node@${v}`;
    origin = `the build host's node (${process.execPath})`;
  } else {
    const pkg = nodePackage(targetArch) ?? `node-linux-${targetArch}`;
    node = await fromRegistry(targetArch, v, ctx);
    purl = `pkg:npm/${pkg}@${v}`;
    origin = `the npm registry's ${pkg} (integrity checked)`;
  }
  const script = await packedScript(store);
  const packages = await packagesInScript(store.path(script.digest));
  return [
    { path: RUNTIME_NODE, name: 'node', version: v, ...node, purl, origin },
    // package.json is private: no registry package is named vault-bundle, so the purl claims none.
    {
      path: RUNTIME_SCRIPT, name: TOOL.name, version: TOOL.version, ...script, purl: `pkg:generic/${TOOL.name}@${TOOL.version}`,
      origin: 'vault-bundle packed into one script by esbuild', ...(packages ? { packages } : {}),
    },
  ];
}

/** The registry's node for the target, fetched once: later builds find it through the memo and the store. */
async function fromRegistry(targetArch: string, version: string, ctx: BuildCtx): Promise<{ digest: Digest; size: number }> {
  const key = `registry:${nodePackage(targetArch)}@${version}`;
  const known = await readMemo(ctx.store);
  const hit = known[key];
  if (hit && (await ctx.store.has(hit.digest, hit.size))) return hit;
  ctx.report({ type: 'phase', phase: 'runtime', detail: `node ${version} for linux/${targetArch} from the npm registry` });
  const got = await fetchRegistryNode(targetArch, version, ctx);
  try {
    const h = await put(ctx.store, got.file, 0o555);
    await writeMemo(ctx.store, { ...(await readMemo(ctx.store)), [key]: h });
    return h;
  } finally {
    await got.done();
  }
}

const memoPath = (store: Store) => join(store.root, 'runtime-digests.json');
async function readMemo(store: Store): Promise<Record<string, { digest: Digest; size: number }>> {
  return JSON.parse(await readFile(memoPath(store), 'utf8').catch(() => '{}')) as Record<string, { digest: Digest; size: number }>;
}
async function writeMemo(store: Store, memo: Record<string, { digest: Digest; size: number }>): Promise<void> {
  await writeFileAtomic(memoPath(store), JSON.stringify(memo)).catch(() => undefined);
}

/** Digests of runtime files by path, size and mtime: the 100 MB node binary is hashed once, not every build. */
async function digestOf(store: Store, file: string): Promise<{ digest: Digest; size: number }> {
  const st = await stat(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  const known = await readMemo(store);
  const hit = known[key];
  if (hit && (await store.has(hit.digest, hit.size))) return hit;
  const h = await hashFile(file);
  await writeMemo(store, { ...(await readMemo(store)), [key]: h });
  return h;
}

async function put(store: Store, file: string, mode: number): Promise<{ digest: Digest; size: number }> {
  const { digest, size } = await digestOf(store, file);
  if (await store.has(digest, size)) return { digest, size };
  await store.put({ digest, size, subject: file }, async () => ({ startedAt: 0, body: createReadStream(file, { highWaterMark: 1 << 20 }) }));
  await chmod(store.path(digest), mode); // the bundle gets a copy with this mode: node must stay executable
  return { digest, size };
}

/** The running packed script itself, or (in a checkout) a fresh esbuild pack of the sources. */
async function packedScript(store: Store): Promise<{ digest: Digest; size: number }> {
  const self = process.argv[1];
  if (self && self.endsWith('.cjs') && existsSync(self)) return put(store, self, 0o444);
  const dir = await makeTempDir('vault-pack');
  try {
    const out = join(dir, 'vault-bundle.cjs');
    const { packScript } = await import('./pack.js');
    await packScript(out);
    return await put(store, out, 0o444);
  } finally {
    await removeTempDir(dir);
  }
}

/**
 * The sh both entry points share, before anything from runtime/ runs. POSIX sh plus coreutils, grep and, only
 * with --key, gpgv (apt depends on it: every Debian and Ubuntu box has it).
 *
 * With --key, SHA256SUMS.asc is checked over SHA256SUMS by gpgv first: the runtime is then checked against the
 * signed list, so a bundle whose runtime/vault-bundle.cjs was swapped and its SHA256SUMS line updated is
 * refused here instead of being run and asked whether it is genuine. Exit codes are the JS side's: 4 for
 * UNSIGNED and SIGNATURE_INVALID, 64 for a key file that is not a usable key, 5 for no usable temp folder.
 *
 * A FAT32 stick is often mounted without exec bits (udisks' showexec) or noexec: then node runs from a copy in
 * $TMPDIR (else $HOME, /dev/shm, /var/tmp when that is unwritable or noexec), checked against SHA256SUMS again
 * after the copy; a trap removes the copy on Ctrl-C and kill as on a normal exit.
 */
function entryScript(who: 'verify' | 'vault-bundle', header: string, run: string, args = ''): string {
  return `#!/bin/sh
${header}
set -eu
who=${who}
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
  [ -n "$running" ] || printf '%s: interrupted\\n' "$who" >&2
  exit "$1"
}
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
fail() {
  printf '%s: %s\\n' "$who" "$2" >&2
  [ $# -lt 3 ] || printf 'hint: %s\\n' "$3" >&2
  exit "$1"
}
tmphint="set TMPDIR to a writable folder that allows running programs, e.g. TMPDIR=/root sh ./$who"
# A private folder in $TMPDIR (default /tmp), else $HOME, /dev/shm or /var/tmp: the first that is writable
# and, for "exec", lets a program run (a noexec /tmp cannot run the node copy). Sets $made.
new_tmp() {
  first=\${TMPDIR:-/tmp}
  for d in "$first" "\${HOME:-}" /dev/shm /var/tmp; do
    [ -n "$d" ] && [ -d "$d" ] || continue
    made=$(mktemp -d "$d/vault-bundle.XXXXXX" 2>/dev/null) || { made=""; continue; }
    if [ "$1" = exec ] && ! { printf '#!/bin/sh\\n' >"$made/probe" && chmod 700 "$made/probe" && "$made/probe"; } 2>/dev/null; then
      rm -rf "$made"
      made=""
      continue
    fi
    [ "$d" = "$first" ] || printf '%s: note: %s is not writable%s; using %s\\n' "$who" "$first" "$(if [ "$1" = exec ]; then echo ' or does not let programs run (noexec)'; fi)" "$d" >&2
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
    case $(od -An -tx1 -N1 "$1" | tr -d ' \\n') in
      98|99|9a|9b|c6) cat "$1" >>"$out"; return 0 ;;
      94|95|96|97|c5) return 2 ;;
      *) return 1 ;;
    esac
  fi
  if grep -q -e '-----BEGIN PGP PRIVATE KEY BLOCK-----' "$1"; then return 2; fi
  cr=$(printf '\\r')
  state=out
  blocks=0
  while IFS= read -r line || [ -n "$line" ]; do
    line=\${line%"$cr"}
    case $state in
      out) if [ "$line" = '-----BEGIN PGP PUBLIC KEY BLOCK-----' ]; then state=head; : >"$2/b64"; fi ;;
      head) [ -n "$line" ] || state=body ;;
      body)
        case $line in
          '-----END PGP PUBLIC KEY BLOCK-----') base64 -d "$2/b64" >>"$out" 2>/dev/null || return 1; blocks=$((blocks + 1)); state=out ;;
          =*) ;;
          *) printf '%s\\n' "$line" >>"$2/b64" ;;
        esac ;;
    esac
  done <"$1"
  [ "$blocks" -gt 0 ]
}
${args}
${who === 'verify' ? 'sub=verify' : `# The command word: the first argument that is not an option (nor the value of --cache-dir/--concurrency).
sub=""
skip=""
for a in "$@"; do
  if [ -n "$skip" ]; then skip=""; continue; fi
  case $a in
    --cache-dir|--concurrency) skip=1 ;;
    -*) ;;
    *) sub=$a; break ;;
  esac
done`}
key=""
keygiven=""
reqsig=""
prev=""
# sign's --key is the secret key (never on the box): only the commands that check a signature are gated here.
[ "$sub" = sign ] || for a in "$@"; do
  [ "$prev" != --key ] || key=$a
  case $a in
    --key) keygiven=1 ;;
    --key=*) keygiven=1; key=\${a#--key=} ;;
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
tdir=\${VAULT_BUNDLE_TRUST_DIR:-/etc/vault-ai/trust}
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
  command -v gpgv >/dev/null 2>&1 || fail 4 "\${keygiven:+--key: }gpgv is not installed, so the signature cannot be checked before the carried runtime runs; nothing from this bundle was run" "install gpgv (Debian and Ubuntu: the gpgv package, which apt itself depends on), then run this again"
  [ -f "$here/SHA256SUMS.asc" ] || fail 4 "UNSIGNED: SHA256SUMS.asc: missing; the bundle is not signed, and $(if [ -n "$keygiven" ]; then echo '--key requires a signature by that key'; else echo "the box trust policy ($tdir) requires a signature"; fi)" "do not install from this copy: get the signed bundle from the release engineer"
  new_tmp any || fail 5 "cannot make a temp folder in \${TMPDIR:-/tmp}, \${HOME:-(no HOME)}, /dev/shm or /var/tmp for the key check" "$tmphint"
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
  if ! gpgv --homedir "$kdir" --keyring "$kdir/release.gpg" "$here/SHA256SUMS.asc" "$kdir/SHA256SUMS" >"$kdir/gpgv.txt" 2>&1; then
    # gpgv quotes the signer's user ID, which comes with the signature: no control byte reaches the terminal.
    LC_ALL=C tr -d '\\000-\\010\\013-\\037\\177' <"$kdir/gpgv.txt" | sed 's/^/  /' >&2
    fail 4 "SIGNATURE_INVALID: SHA256SUMS.asc does not verify against $keywho (gpgv's words above); nothing from this bundle was run" "do not install from this copy: it was changed or signed by someone else; check that --key is the release key and copy the bundle again"
  fi
  sums="$kdir/SHA256SUMS"
fi
[ -f "$sums" ] || fail 4 "SHA256SUMS is missing from $here: this is not a whole bundle (every bundle lists its files there)" "copy the bundle again from the release medium, the whole folder; nothing from it was run"
[ -r "$sums" ] || fail 4 "cannot read $sums" "run it as a user who can read the bundle folder"
if ! grep -Eq '^[0-9a-f]{64}  runtime/node$' "$sums" || ! grep -Eq '^[0-9a-f]{64}  runtime/vault-bundle[.]cjs$' "$sums"; then
  fail 4 "SHA256SUMS does not list the carried runtime (runtime/node, runtime/vault-bundle.cjs); copy the bundle again"
fi
# Only names made of plain characters are checked here (the runtime's own are): sha256sum prints a failing
# name as it is, and a crafted line's name with ESC [2J or a carriage return must never reach the terminal.
# Everything else in SHA256SUMS is checked by the runtime next, which escapes what it prints.
rtout=$(LC_ALL=C grep -E '^[0-9a-f]{64}  (runtime/[A-Za-z0-9._+-]+|verify|vault-bundle)$' "$sums" | (cd "$here" && sha256sum --strict --quiet -c - 2>&1)) || {
  printf '%s\\n' "$rtout" | LC_ALL=C tr -d '\\000-\\010\\013-\\037\\177' >&2
  fail 4 "the carried runtime does not match SHA256SUMS; copy the bundle again"
}
node="$here/runtime/node"
if ! "$node" --version >/dev/null 2>&1; then
  new_tmp exec || fail 5 "no folder to run the carried node from: \${TMPDIR:-/tmp}, \${HOME:-(no HOME)}, /dev/shm and /var/tmp are not writable or do not let programs run (noexec)" "$tmphint"
  ndir=$made
  made=""
  cp "$node" "$ndir/node" 2>"$ndir/cp.txt" || fail 5 "cannot copy runtime/node to $ndir: $(cat "$ndir/cp.txt")" "node needs about 100 MB there; $tmphint"
  chmod 700 "$ndir/node"
  hex=$(grep -E '^[0-9a-f]{64}  runtime/node$' "$sums" | cut -c1-64)
  # No sed over the path: a folder name may hold any character, its delimiter included.
  if ! printf '%s  node\\n' "$hex" | (cd "$ndir" && sha256sum --strict --quiet -c - >/dev/null 2>&1); then
    fail 4 "the copied runtime in $ndir does not match SHA256SUMS" "copy the bundle again; if this repeats, $tmphint"
  fi
  node="$ndir/node"
fi
set +e
running=1
${run}
exit $?
`;
}

/**
 * ./verify checks the folder it is in; a path naming that same folder ("./verify .", "./verify /media/usb/qs")
 * is accepted and dropped, any other is refused with where to go instead. Options that take a value are
 * skipped with their value, so "--base /media/usb/base" is not taken for a path.
 */
const VERIFY_ARGS = `self=$(cd "$here" && pwd -P)
n=$#
val=""
while [ "$n" -gt 0 ]; do
  a=$1
  shift
  n=$((n - 1))
  if [ -n "$val" ]; then
    val=""
  else
    case $a in
      --threads|--base|--key|--cache-dir|--concurrency) val=1 ;;
      -*) ;;
      *)
        if [ -d "$a" ] && [ "$(cd "$a" && pwd -P)" = "$self" ]; then continue; fi
        if [ -f "$a/verify" ]; then fail 64 "$a is another bundle folder; this ./verify checks the folder it is in ($here)" "run that folder's own verify: sh $a/verify"; fi
        fail 64 "$a: this ./verify checks the folder it is in ($here) and takes no other path" "run it with no path: sh $here/verify [--key release.asc]"
        ;;
    esac
  fi
  set -- "$@" "$a"
done`;

/** `./verify`: checks the runtime with coreutils alone (and the signature, with --key), then verifies the bundle. */
export const VERIFY_SH = entryScript(
  'verify',
  `# First thing to run on the box, from the bundle folder or anywhere: ./verify (or: sh ./verify)
# Checks the carried runtime with sha256sum (and, with --key, SHA256SUMS.asc with gpgv) before running
# anything from runtime/, then verifies the whole bundle.`,
  'VAULT_BUNDLE_ENTRY=./verify "$node" "$here/runtime/vault-bundle.cjs" verify "$here" "$@"',
  VERIFY_ARGS,
);

/** `./vault-bundle <command>`: the same checks, then any command (install ., smoke, inspect .). */
export const WRAPPER_SH = entryScript(
  'vault-bundle',
  `# Runs the carried vault-bundle: ./vault-bundle install .   ./vault-bundle smoke --bundle .
# (or: sh ./vault-bundle …). With --key, SHA256SUMS.asc is checked with gpgv before anything runs.`,
  '"$node" "$here/runtime/vault-bundle.cjs" "$@"',
);

export function fieldReadme(name: string, version: string): string {
  return `${name} ${version} — field instructions

This folder is a vault-bundle bundle. The box needs only sh and coreutils: Node.js travels in runtime/.
When the stick does not keep exec bits (FAT32 often does not), run every entry point through sh:
"sh ./verify", "sh ./vault-bundle ...", "sudo sh ./vault-bundle install ." (the steps below write ./ for short).

1. Check it:      ./verify --key release.asc
   release.asc is the release key: the public key, brought to the box separately from the bundle. With it,
   gpgv (on every Debian and Ubuntu box: apt needs it) checks SHA256SUMS.asc before anything in this folder
   runs, and an unsigned bundle is refused. Without a release key: ./verify (checksums only).
   ./verify checks the folder it is in: "./verify ." is the same; for another bundle run that one's verify.
   Success is a line that starts with "OK ${name} ${version}: N files ... verified". Anything else: do not install.
   Damaged or missing files: copy the bundle again from the release medium (a split bundle names the part
   to copy again). "N files not in the bundle (listed below): move them out of the bundle folder": files
   were left in this folder (results, probes); move them beside it and run ./verify again.
   macOS/Windows metadata (.DS_Store, ._*, System Volume Information, ...) is only warned about.
   A delta bundle also needs its base: ./verify --key release.asc --base /path/to/the/base/bundle
2. Install it:    sudo ./vault-bundle install . --key release.asc   (add --dry-run first to see the plan; it changes nothing)
   It verifies again, checks that this box is the one the bundle is for (OS, architecture, Python: else
   exit 6, change nothing and ask for the right bundle), free space, and that apt would install its packages
   on this box (else exit 6, APT_REFUSED names each package and why, nothing is changed: bring back a probe,
   step 3, for a bundle built for this box), then installs files, apt packages,
   Python wheels and models, with no network, reading a split bundle's parts in place (no reassembly).
   A second run says "nothing to do"; after a failure or Ctrl-C, run it again: it completes what is missing.
   The journal is /var/lib/vault-bundle/journal.jsonl (it also records a run that stopped partway).
3. Prove the box: sudo ./vault-bundle smoke --bundle .     (results in ../smoke-results, beside this folder)

Bring back: the output of the three steps, /var/lib/vault-bundle/journal.jsonl, the smoke results folder,
and a probe of the box for the next, smaller bundle:
                  ./vault-bundle probe      (writes ../box.json, beside this folder)
Write nothing into this folder: verify refuses files that are not the bundle's until they are moved out.

TMPDIR: when node cannot run from the stick, it runs from a copy (about 100 MB, checked against SHA256SUMS,
removed on exit or Ctrl-C) in $TMPDIR (default /tmp), else in $HOME, /dev/shm or /var/tmp when that is not
writable or is mounted noexec. If none works ("no folder to run the carried node from"), set TMPDIR to a
writable folder that allows running programs:   TMPDIR=/root sh ./verify --key release.asc
(sudo drops TMPDIR: put it after sudo, as in   sudo TMPDIR=/root sh ./vault-bundle install . --key release.asc)
`;
}
