/**
 * `npx tsx tools/code-cache.ts DIR`: writes DIR/boot.cjs and DIR/vault-bundle.cache for DIR/node and
 * DIR/vault-bundle.cjs, as a build with a runnable runtime does (bench/box/verify-bench-carry.sh's runtime).
 * Exit 1 when that node made no cache (boot.cjs is written anyway: it runs the script without one).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BOOT_CJS, makeCodeCache } from '../src/runtime/code-cache.js';

const dir = process.argv[2] ?? '.';
await writeFile(join(dir, 'boot.cjs'), BOOT_CJS);
const cache = await makeCodeCache(join(dir, 'node'), join(dir, 'vault-bundle.cjs'));
if (cache) await writeFile(join(dir, 'vault-bundle.cache'), cache);
process.exitCode = cache ? 0 : 1;
