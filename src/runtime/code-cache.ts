import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EARLY_JS } from '../util/early-hash.js';
import { START_FLAGS } from '../util/gc.js';
import { signalChild } from '../util/proc.js';
import { makeTempDir, removeTempDir } from '../util/temp.js';

export const RUNTIME_BOOT = 'runtime/boot.cjs';
export const RUNTIME_CACHE = 'runtime/vault-bundle.cache';

/**
 * runtime/boot.cjs, what the sh entry points run: the packed CLI beside it, compiled from runtime/vault-bundle.cache
 * (V8's code cache of that script, made at build time by this very node) when there is one. Compiling the 3.8 MB
 * script is most of the CLI's start-up (--version: 0.20 → 0.14 s CPU here). Node 20 has no
 * module.enableCompileCache, so this is vm.Script with cachedData, as v8-compile-cache does it.
 *
 * A cache is used only where it fits: its first 32 bytes are the sha256 of the script it was made from (V8 itself
 * compares only the source's length), and V8 refuses one made by another node or under other V8 flags
 * (cachedDataRejected): then, and without a cache, the script is compiled as it would be without one, silently.
 * The CLI's start flags (util/gc.ts) are set before the compile, as when the cache was made. The entry points
 * check both files against SHA256SUMS before this runs (gate.sh): a code cache is code.
 * VAULT_BUNDLE_BOOT_REPORT=1 says on stderr what became of the cache: used, rejected, stale (made for other
 * bytes), none.
 */
export const BOOT_CJS = `'use strict';
// vault-bundle's carried start-up (made by vault-bundle's src/runtime/code-cache.ts): runs vault-bundle.cjs beside
// it, from vault-bundle.cache (V8's code cache of that script) when that fits this script, node and V8 flags.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const file = path.join(__dirname, 'vault-bundle.cjs');

function compile(make) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= ${START_FLAGS.fromMajor} && major <= ${START_FLAGS.toMajor}) require('node:v8').setFlagsFromString(${JSON.stringify(START_FLAGS.flags)});
  const bytes = fs.readFileSync(file);
  let cache;
  let status = make ? 'making' : 'none';
  if (!make) {
    try {
      cache = fs.readFileSync(path.join(__dirname, 'vault-bundle.cache'));
    } catch {}
  }
  const digest = make || cache ? require('node:crypto').createHash('sha256').update(bytes).digest() : undefined;
  let cachedData;
  if (cache) {
    if (cache.length > 32 && cache.subarray(0, 32).equals(digest)) cachedData = cache.subarray(32);
    else status = 'stale';
  }
  // The packed script is ASCII (esbuild's charset: ascii): read as latin1, it is the same string, 4 ms sooner.
  // A cache holds its script's name: made under a fixed one, it is the same on every build (stack traces name that).
  const script = new vm.Script(Module.wrap(bytes.toString('latin1')), { filename: make ? 'runtime/vault-bundle.cjs' : file, cachedData });
  if (cachedData) status = script.cachedDataRejected ? 'rejected' : 'used';
  return { script, digest, status };
}

function run(script) {
  const m = new Module(file, module);
  m.filename = file;
  process.argv[1] = file;
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, __dirname);
}

if (require.main === module) {
  // verify of a big folder: its hashing processes start first and hash while the CLI compiles and loads; its
  // threads, once it is compiled (vault-bundle's util/early-hash.ts).
  const threadsLater = (${EARLY_JS})(require, process.argv.slice(2), process.env);
  const { script, status } = compile(false);
  if (threadsLater) threadsLater();
  if (process.env.VAULT_BUNDLE_BOOT_REPORT === '1') process.stderr.write('vault-bundle boot: code cache ' + status + '\\n');
  run(script);
} else {
  // Build time only: runs what the box runs most, verify, on the tiny bundle "warm" (one thread: a cache made after
  // worker threads started is rejected later), or --version without one; then writes the digest and the code cache
  // of everything that compiled: verify's own modules come from the cache too, not only the CLI's start.
  exports.make = (out, warm) => {
    const { script, digest } = compile(true);
    process.argv = [process.argv[0], file].concat(warm ? ['-q', 'verify', '--threads', '1', warm] : ['--version']);
    process.once('exit', () => fs.writeFileSync(out, Buffer.concat([digest, script.createCachedData()])));
    run(script);
  };
}
`;

/**
 * The tiny bundle the code cache is made over (boot.cjs's make): a bundle.json with no artifacts, listed in SHA256SUMS,
 * which verify passes (else no cache is made: a test keeps it passing). Fixed bytes, under a fixed relative name,
 * so the cache stays the same bytes on every build. The schema name is bundle/layout.ts's INDEX_SCHEMA (a layer up).
 */
export const WARM_INDEX = JSON.stringify({
  schema: 'vault-bundle/v1',
  name: 'code-cache-warm-up',
  version: '1.0.0',
  created: '2000-01-01T00:00:00Z',
  tool: { name: 'vault-bundle', version: '0' },
  manifest: { path: 'warm.yaml', inputsDigest: `sha256:${'0'.repeat(64)}` },
  target: { os: 'linux', arch: 'amd64' },
  artifacts: [],
});

/** Writes the warm-up bundle into `dir` (a new folder). */
export async function writeWarmBundle(dir: string): Promise<void> {
  await mkdir(dir);
  await writeFile(join(dir, 'bundle.json'), WARM_INDEX);
  await writeFile(join(dir, 'SHA256SUMS'), `${createHash('sha256').update(WARM_INDEX).digest('hex')}  bundle.json\n`);
}

/**
 * The code cache of the packed CLI `script` for the node binary `node` (which must run here), as boot.cjs reads
 * it; undefined where that node cannot make one (it does not run here, or fails). Made by that node itself under
 * --predictable, which makes the bytes the same on every build (V8's hash seed and allocation order otherwise
 * vary) and, like the hash seed, does not count among the flags a cache must match.
 */
export async function makeCodeCache(node: string, script: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  const dir = await makeTempDir('vault-codecache');
  try {
    await writeFile(join(dir, 'boot.cjs'), BOOT_CJS);
    await copyFile(script, join(dir, 'vault-bundle.cjs'));
    const out = join(dir, 'vault-bundle.cache');
    await writeWarmBundle(join(dir, 'warm'));
    const made = ['--predictable', '-e', 'require(process.argv[1]).make(process.argv[2], process.argv[3])', join(dir, 'boot.cjs'), out, 'warm'];
    if (!(await runQuietly(node, made, dir, signal))) return undefined;
    const cache = await readFile(out);
    const want = createHash('sha256')
      .update(await readFile(join(dir, 'vault-bundle.cjs')))
      .digest();
    return cache.length > 32 && cache.subarray(0, 32).equals(want) ? cache : undefined;
  } catch {
    return undefined;
  } finally {
    await removeTempDir(dir);
  }
}

/**
 * Whether `node args` ran in `dir` and exited 0 within a minute; no NODE_OPTIONS (its flags would be the cache's),
 * TMPDIR `dir` (verify's sweep of dead runs' temp folders finds nothing there: the same steps on every build).
 */
function runQuietly(node: string, args: string[], dir: string, signal?: AbortSignal): Promise<boolean> {
  // No box trust policy either: the warm-up bundle is unsigned, and the build host's policy is not the box's.
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir, VAULT_BUNDLE_TRUST_DIR: join(dir, 'no-trust-policy') };
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const child = spawn(node, args, { stdio: 'ignore', env, cwd: dir });
    const stop = () => signalChild(child, 'SIGKILL');
    const timer = setTimeout(stop, 60_000);
    signal?.addEventListener('abort', stop, { once: true });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      resolve(ok);
    };
    child.on('error', () => done(false));
    child.on('close', (code) => done(code === 0));
  });
}
