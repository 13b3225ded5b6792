import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signalChild } from '../../src/util/proc.js';
import { fileManifest } from './fixtures.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The packed CLI that ships to the box; test/global-setup.ts builds it before the tests. */
export const BIN = fileURLToPath(new URL('../../dist/vault-bundle.cjs', import.meta.url));
/** The CLI as a checkout runs it: bin/vault-bundle.js loads the TypeScript sources through tsx. */
export const SOURCE_BIN = fileURLToPath(new URL('../../bin/vault-bundle.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would (a child process), optionally sending a signal once `when` matches. */
export function runCli(
  args: string[],
  o: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    signalWhen?: { pattern: RegExp; signal: NodeJS.Signals; delayMs?: number };
    /** `source`: run bin/vault-bundle.js (the sources through tsx) instead of the packed CLI. */
    from?: 'packed' | 'source';
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [o.from === 'source' ? SOURCE_BIN : BIN, ...args], {
      cwd: o.cwd ?? REPO,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const check = () => {
      if (o.signalWhen && !sent && o.signalWhen.pattern.test(stdout + stderr)) {
        sent = true;
        const sig = o.signalWhen.signal;
        setTimeout(() => signalChild(child, sig), o.signalWhen.delayMs ?? 0);
      }
    };
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), check()));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), check()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A small files bundle in `work`/b carrying this machine's node (`--runtime host`: runtime/boot.cjs and its code cache). */
export async function hostRuntimeBundle(work: string, name: string): Promise<string> {
  const { manifest } = await fileManifest(work, { name, sizes: [100, 5000] });
  const bundle = join(work, 'b');
  const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', manifest, '--out', bundle, '--runtime', 'host']);
  if (b.code !== 0) throw new Error(`the host-runtime bundle did not build: ${b.stderr}`);
  return bundle;
}
