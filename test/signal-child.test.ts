import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every .ts file under `dir` (node_modules and fixtures of other kinds aside). */
async function tsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, dir), { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (e.isFile() && p.endsWith('.ts') && !p.includes('node_modules')) out.push(p);
  }
  return out;
}

describe('signals to child processes', () => {
  it('a child that never started is not signalled: no signal reaches our process group', async () => {
    // In a process group of its own: were the guard gone, Node's kill() with an unset pid would hit that group
    // (this script and its sh), not the test run.
    const child = spawn('sh', ['-c', `exec "${process.execPath}" --import tsx "${join(root, 'test/fixtures/proc/failed-spawn.ts')}"`], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
    expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
    expect(JSON.parse(out)).toEqual({ alive: true, sent: [false, false] });
  }, 120_000);

  it('ChildProcess.kill() is called in one place only, behind the guard (src/util/proc.ts signalChild)', async () => {
    const files = [...(await tsUnder('src')), ...(await tsUnder('test')), ...(await tsUnder('bench')), ...(await tsUnder('tools'))];
    const offenders: string[] = [];
    for (const f of files) {
      if (f.endsWith('src/util/proc.ts') || f.endsWith('test/signal-child.test.ts')) continue;
      const text = await readFile(f, 'utf8');
      text.split('\n').forEach((line, i) => {
        if (/(?<!process)\.kill\(/.test(line)) offenders.push(`${f.slice(root.length)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
