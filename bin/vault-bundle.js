#!/usr/bin/env node
// In a checkout (src/ present) the TypeScript sources run through tsx, so an edit is never shadowed by a
// stale build; an installed package without src/ runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = fileURLToPath(new URL('../src/cli/run.ts', import.meta.url));
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(src).href);
} else {
  await import(new URL('../dist/src/cli/run.js', import.meta.url).href);
}
