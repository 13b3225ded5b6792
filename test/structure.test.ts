import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { longFunctions, longFunctionsIn, tsFiles } from '../tools/long-functions.js';
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

/** The house's sizes (shared/design/house.md): a function in src/ fits on a screen, a file holds one concern. */
const MAX_FUNCTION_LINES = 80;
const MAX_FILE_LINES = 300;

/**
 * Functions allowed past MAX_FUNCTION_LINES: only a port of one of apt's own functions, kept in apt's shape so it
 * can be read beside apt's source. Key `file:name`, value the apt function it ports (file and function).
 * Empty today: the apt resolver's functions all fit.
 */
const LONG_APT_PORTS: Readonly<Record<string, string>> = {};

describe('the house sizes (tools/long-functions.ts)', () => {
  it(`no function in src/ is over ${MAX_FUNCTION_LINES} lines, except a cited port of apt`, () => {
    const long = longFunctions([join(root, 'src')], MAX_FUNCTION_LINES, root).filter((f) => !(`${f.file}:${f.name}` in LONG_APT_PORTS));
    expect(long.map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual([]);
    for (const [where, cites] of Object.entries(LONG_APT_PORTS)) expect(cites, where).toMatch(/apt-pkg\/|apt-private\/|cmdline\//);
  });

  it(`no file in src/ is over ${MAX_FILE_LINES} lines`, async () => {
    const over: string[] = [];
    for (const f of tsFiles([join(root, 'src')])) {
      const lines = (await readFile(f, 'utf8')).split('\n').length - 1;
      if (lines > MAX_FILE_LINES) over.push(`${f.slice(root.length)} (${lines} lines)`);
    }
    expect(over).toEqual([]);
  });

  it('the walker measures declarations, methods, arrow functions and function expressions, nested ones too', () => {
    const body = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `export async function longDecl(): Promise<void> {\n${body(79)}\n}`, // 81 lines
      `function shortDecl(): void {\n${body(78)}\n}`, // 80 lines: allowed
      `export const arrow = (): number => {\n${body(79)}\n  return 1;\n};`,
      `class C {\n  method(): void {\n${body(80)}\n  }\n}`,
      `register(function (): void {\n${body(10)}\n  const inner = () => {\n${body(80)}\n  };\n});`,
    ].join('\n');
    const found = longFunctionsIn('x.ts', text, 80).map((f) => `${f.name} ${f.lines}`);
    expect(found).toEqual(['longDecl 81', 'arrow 82', 'method 82', '(argument of register) 94', 'inner 82']);
  });
});
