import { execFile } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const run = promisify(execFile);

/** dependency-cruiser over `src` of `cwd` with the project's rules; its violations, one line each. */
async function cruise(cwd: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [depcruise, 'src', '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'err'], {
      cwd,
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('the import structure (.dependency-cruiser.cjs)', () => {
  it('src/ has no import circle and no import that points up a layer', async () => {
    const r = await cruise(root);
    expect(r.out).toContain('no dependency violations found');
    expect(r.code).toBe(0);
  }, 120_000);

  it('the rules catch a circle, an upward import, two rooms of one floor leaning on each other, and an import of the cli', async () => {
    const tmp = await tempDir();
    const files: Record<string, string> = {
      'src/util/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'src/util/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'src/util/up.ts': "import { s } from '../sources/s.js';\nexport const up = s;\n",
      'src/sources/s.ts': 'export const s = 1;\n',
      'src/store/st.ts': "import { j } from '../state/j.js';\nexport const st = j;\n",
      'src/state/j.ts': 'export const j = 1;\n',
      'src/bundle/x.ts': "import { f } from '../cli/f.js';\nexport const x = f;\n",
      'src/cli/f.ts': 'export const f = 1;\n',
    };
    for (const [p, text] of Object.entries(files)) {
      await mkdir(dirname(join(tmp, p)), { recursive: true });
      await writeFile(join(tmp, p), text);
    }
    await copyFile(join(root, 'tsconfig.json'), join(tmp, 'tsconfig.json'));
    const r = await cruise(tmp);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/error no-circular: src\/util\/a\.ts/);
    expect(r.out).toMatch(/error only-down-from-util-version\.ts: src\/util\/up\.ts → src\/sources\/s\.ts/);
    expect(r.out).toMatch(/error rooms-apart-store-state-pgp-box: src\/store\/st\.ts → src\/state\/j\.ts/);
    expect(r.out).toMatch(/error nothing-imports-the-cli: src\/bundle\/x\.ts → src\/cli\/f\.ts/);
  }, 120_000);
});
