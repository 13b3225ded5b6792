import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { writeTinyModel } from './files.js';

/**
 * Writes the tiny real models that the quickstart and box manifests bundle from a local folder
 * (manifests/models/): generated, deterministic, never committed. `npm start` runs it first.
 */
export async function makeTinyModels(dir: string): Promise<void> {
  await writeTinyModel(join(dir, 'tiny-gpt2'), { arch: 'gpt2', seed: 1 });
  await writeTinyModel(join(dir, 'tiny-opt'), { arch: 'opt', seed: 2 });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await makeTinyModels(process.argv[2] ?? 'manifests/models');
}
