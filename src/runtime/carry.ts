import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../store/digest.js';
import { type Store, hashFile } from '../store/store.js';
import { ManifestError } from '../util/errors.js';
import { TOOL } from '../version.js';

/** One file of the carried runtime, as bundle.json and the SBOM record it. */
export interface RuntimeFile {
  path: string;
  name: string;
  version: string;
  digest: Digest;
  size: number;
  purl: string;
}

export const RUNTIME_NODE = 'runtime/node';
export const RUNTIME_SCRIPT = 'runtime/vault-bundle.cjs';

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/**
 * What the box needs to run vault-bundle with no Node.js installed: this host's node binary (when its
 * architecture is the target's) and the tool packed into one script. Both go through the store, so a rebuild
 * links them instead of copying 100 MB.
 */
export async function prepareRuntime(mode: string, targetArch: string, store: Store): Promise<RuntimeFile[]> {
  if (mode === 'none') return [];
  if (mode !== 'host') {
    throw new ManifestError({ code: 'MANIFEST_FIELD', message: `--runtime ${mode}: expected "host" or "none"`, subject: '--runtime', hint: 'use --runtime host (this machine\'s node) or --runtime none' });
  }
  if (ARCH[process.arch] !== targetArch || process.platform !== 'linux') {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `this host's node is ${process.platform}/${process.arch}, the target is linux/${targetArch}`,
      subject: '--runtime',
      hint: 'build on a host of the target\'s architecture, or use --runtime none and bring node separately',
    });
  }
  const node = await put(store, process.execPath, 0o555);
  const script = await packedScript(store);
  const v = process.version.replace(/^v/, '');
  return [
    { path: RUNTIME_NODE, name: 'node', version: v, ...node, purl: `pkg:generic/node@${v}?download_url=${encodeURIComponent(`https://nodejs.org/dist/v${v}/`)}` },
    { path: RUNTIME_SCRIPT, name: TOOL.name, version: TOOL.version, ...script, purl: `pkg:npm/${TOOL.name}@${TOOL.version}` },
  ];
}

/** Digests of runtime files by path, size and mtime: the 100 MB node binary is hashed once, not every build. */
async function digestOf(store: Store, file: string): Promise<{ digest: Digest; size: number }> {
  const st = await stat(file);
  const memo = join(store.root, 'runtime-digests.json');
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  const known = JSON.parse(await readFile(memo, 'utf8').catch(() => '{}')) as Record<string, { digest: Digest; size: number }>;
  const hit = known[key];
  if (hit && (await store.has(hit.digest, hit.size))) return hit;
  const h = await hashFile(file);
  await writeFileAtomic(memo, JSON.stringify({ ...known, [key]: h })).catch(() => undefined);
  return h;
}

async function put(store: Store, file: string, mode: number): Promise<{ digest: Digest; size: number }> {
  const { digest, size } = await digestOf(store, file);
  if (await store.has(digest, size)) return { digest, size };
  await store.put({ digest, size, subject: file }, async () => ({ startedAt: 0, body: createReadStream(file, { highWaterMark: 1 << 20 }) }));
  await chmod(store.path(digest), mode); // the bundle hard-links it: node must stay executable
  return { digest, size };
}

/** The running packed script itself, or (in a checkout) a fresh esbuild pack of the sources. */
async function packedScript(store: Store): Promise<{ digest: Digest; size: number }> {
  const self = process.argv[1];
  if (self && self.endsWith('.cjs') && existsSync(self)) return put(store, self, 0o444);
  const dir = await mkdtemp(join(tmpdir(), 'vault-pack-'));
  try {
    const out = join(dir, 'vault-bundle.cjs');
    const { packScript } = await import('./pack.js');
    await packScript(out);
    return await put(store, out, 0o444);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `./verify`: checks the runtime with coreutils alone, then runs the bundle's own verify. POSIX sh. */
export const VERIFY_SH = `#!/bin/sh
# First thing to run on the box, from the bundle folder or anywhere: ./verify
# Checks the carried runtime with sha256sum before running anything, then verifies the whole bundle.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! grep -E '  (runtime/[^/]+|verify|vault-bundle)$' SHA256SUMS | sha256sum --strict --quiet -c -; then
  echo "verify: the carried runtime does not match SHA256SUMS; copy the bundle again" >&2
  exit 4
fi
exec "$here/runtime/node" "$here/runtime/vault-bundle.cjs" verify "$here" "$@"
`;

/** `./vault-bundle <command>`: the same runtime check, then any command (install ., smoke, inspect .). */
export const WRAPPER_SH = `#!/bin/sh
# Runs the carried vault-bundle: ./vault-bundle install .   ./vault-bundle smoke --bundle .
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! (cd "$here" && grep -E '  (runtime/[^/]+|verify|vault-bundle)$' SHA256SUMS | sha256sum --strict --quiet -c -); then
  echo "vault-bundle: the carried runtime does not match SHA256SUMS; copy the bundle again" >&2
  exit 4
fi
exec "$here/runtime/node" "$here/runtime/vault-bundle.cjs" "$@"
`;

export function fieldReadme(name: string, version: string): string {
  return `${name} ${version} — field instructions

This folder is a vault-bundle bundle. The box needs only sh and coreutils: Node.js travels in runtime/.

1. Check it:      ./verify
   Success ends with "OK ${name} ${version}: N files ... verified". Anything else: do not install;
   copy the bundle again from the release medium.
2. Install it:    sudo ./vault-bundle install .      (add --dry-run first to see the plan)
   It verifies again, then installs files, apt packages, Python wheels and models, with no network.
   A second run says "nothing to do". The journal is /var/lib/vault-bundle/journal.jsonl.
3. Prove the box: sudo ./vault-bundle smoke --bundle .   (when this version has smoke checks)

Bring back: the output of the three steps and /var/lib/vault-bundle/journal.jsonl (and the smoke
results folder when there is one).
`;
}
