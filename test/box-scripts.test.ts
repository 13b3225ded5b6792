import { execFile } from 'node:child_process';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { VERIFY_SH, WRAPPER_SH } from '../src/runtime/entry.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const shDir = fileURLToPath(new URL('../src/runtime/sh/', import.meta.url));
const pyDir = fileURLToPath(new URL('../src/checks/py/', import.meta.url));

/** Exit code and output of a program (a failing one is a result here, not an exception). */
async function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args, { maxBuffer: 16 << 20 });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 127, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

describe('the box-side scripts, read by their own linters', () => {
  it('shellcheck finds nothing in ./verify and ./vault-bundle as a bundle carries them', async () => {
    const dir = await tempDir();
    // The assembled scripts (parts included) are what runs on the box; .shellcheckrc beside them is read.
    await writeFile(join(dir, 'verify'), VERIFY_SH);
    await writeFile(join(dir, 'vault-bundle'), WRAPPER_SH);
    await copyFile(join(shDir, '.shellcheckrc'), join(dir, '.shellcheckrc'));
    const r = await tool('shellcheck', ['--format=gcc', join(dir, 'verify'), join(dir, 'vault-bundle')]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('every part the entry scripts include is used, and every #@include names a part', async () => {
    const parts = (await readdir(shDir)).filter((f) => f.endsWith('.sh') && f !== 'verify.sh' && f !== 'vault-bundle.sh');
    expect(parts.sort()).toEqual(['gate.sh', 'prelude.sh']);
    for (const s of [VERIFY_SH, WRAPPER_SH]) expect(s).not.toContain('#@include');
  });

  it('python3 -m py_compile accepts every Python probe', async () => {
    const dir = await tempDir();
    const probes = (await readdir(pyDir)).filter((f) => f.endsWith('.py'));
    expect(probes.length).toBeGreaterThanOrEqual(8);
    for (const p of probes) {
      // Compiled into the temp folder: no __pycache__ in the checkout.
      const r = await tool('python3', [
        '-c',
        'import sys, py_compile; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)',
        join(pyDir, p),
        join(dir, `${p}c`),
      ]);
      expect({ probe: p, ...r }).toEqual({ probe: p, code: 0, out: '' });
    }
  });
});
