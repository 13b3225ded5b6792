import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];

/** A scratch folder removed after the current test. */
export async function tempDir(prefix = 'vb-test'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `${prefix}-`));
  made.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
