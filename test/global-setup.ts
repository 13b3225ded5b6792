import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';

/**
 * CLI tests run the single-script build that ships to the box (dist/vault-bundle.cjs), made once here:
 * what the field tech runs is what is tested, and a spawn costs 0.2 s instead of a TypeScript compile.
 */
export default async function setup(): Promise<void> {
  await packScript(fileURLToPath(new URL('../dist/vault-bundle.cjs', import.meta.url)));
}
