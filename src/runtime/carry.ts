import { createHash } from 'node:crypto';
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
import { BOOT_CJS, RUNTIME_BOOT, RUNTIME_CACHE, makeCodeCache } from './code-cache.js';

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
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `--runtime ${mode}: expected auto, host, registry[@<version>] or none`,
      subject: '--runtime',
      hint: "e.g. --runtime registry@20.20.2 for another architecture's official node",
    });
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
  const boot = await store.putBuffer(Buffer.from(BOOT_CJS), RUNTIME_BOOT);
  // A node that runs here makes its own code cache of the script; for any other, boot.cjs compiles it plainly.
  const cache = hostFits ? await codeCache(ctx, node, script) : undefined;
  const ours = (name: string) => ({ name, version: TOOL.version, purl: `pkg:generic/${name}@${TOOL.version}` });
  return [
    { path: RUNTIME_NODE, name: 'node', version: v, ...node, purl, origin },
    // package.json is private: no registry package is named vault-bundle, so the purl claims none.
    {
      path: RUNTIME_SCRIPT,
      name: TOOL.name,
      version: TOOL.version,
      ...script,
      purl: `pkg:generic/${TOOL.name}@${TOOL.version}`,
      origin: 'vault-bundle packed into one script by esbuild',
      ...(packages ? { packages } : {}),
    },
    {
      path: RUNTIME_BOOT,
      ...ours('vault-bundle-boot'),
      digest: boot.digest,
      size: boot.size,
      origin: `what the entry points run: ${RUNTIME_SCRIPT}, from its code cache`,
    },
    ...(cache
      ? [
          {
            path: RUNTIME_CACHE,
            ...ours('vault-bundle-code-cache'),
            ...cache,
            origin: `V8's code cache of ${RUNTIME_SCRIPT}, made by ${RUNTIME_NODE} (node ${v}) at build time`,
          },
        ]
      : []),
  ];
}

/** The code cache for this node and script, made once: later builds find it through the memo and the store. */
async function codeCache(ctx: BuildCtx, node: { digest: Digest }, script: { digest: Digest }): Promise<{ digest: Digest; size: number } | undefined> {
  const key = `codecache:${node.digest}:${script.digest}:${createHash('sha256').update(BOOT_CJS).digest('hex')}`;
  const hit = (await readMemo(ctx.store))[key];
  if (hit && (await ctx.store.has(hit.digest, hit.size))) return hit;
  const bytes = await makeCodeCache(ctx.store.path(node.digest), ctx.store.path(script.digest), ctx.signal);
  if (!bytes) return undefined;
  const made = await ctx.store.putBuffer(bytes, RUNTIME_CACHE);
  await writeMemo(ctx.store, { ...(await readMemo(ctx.store)), [key]: made });
  return made;
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
  await store.put({ digest, size, subject: file }, () => Promise.resolve({ startedAt: 0, body: createReadStream(file, { highWaterMark: 1 << 20 }) }));
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

/** The sh entry points (./verify, ./vault-bundle) live in entry.ts, from the scripts in ./sh/. */
export { VERIFY_SH, WRAPPER_SH } from './entry.js';

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
