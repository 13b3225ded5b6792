import { lstat, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';

/**
 * The real system paths that `install` writes by default. Tests must point every one of them into their temp
 * folders (stateDir, profile, hf home, venv); a test that forgets leaks into the machine, as the HF profile
 * snippet once did (/etc/profile.d/vault-ai-models.sh with a /tmp/vb-test-… HF_HOME).
 */
const SYSTEM_PATHS = [
  '/etc/profile.d/vault-ai-models.sh',
  '/etc/vault-ai',
  '/opt/vault-ai',
  '/var/lib/vault-bundle',
  join(homedir(), '.local', 'state', 'vault-bundle'),
];

/** path → mtime of every entry at or under `root` (at most `cap` entries: enough to see a change). */
async function snapshot(root: string, out: Map<string, number>, cap = 10_000): Promise<void> {
  const st = await lstat(root).catch(() => undefined);
  if (!st || out.size >= cap) return;
  out.set(root, st.mtimeMs);
  if (!st.isDirectory()) return;
  for (const name of await readdir(root).catch(() => [] as string[])) await snapshot(join(root, name), out, cap);
}

async function systemState(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const p of SYSTEM_PATHS) await snapshot(p, out);
  return out;
}

/**
 * CLI tests run the single-script build that ships to the box (dist/vault-bundle.cjs), made once here:
 * what the field tech runs is what is tested, and a spawn costs 0.2 s instead of a TypeScript compile.
 *
 * Every temp folder of this run lies in one folder of its own (TMPDIR, which the test workers inherit), so
 * what a test leaks names it: the teardown fails the run when a system path install writes changed and holds
 * this run's folder (an HF_HOME in the profile snippet, a bundle path in a journal). Other changes there are
 * reported, not failed: other engineers' runs share this machine.
 */
export default async function setup(): Promise<() => Promise<void>> {
  await packScript(fileURLToPath(new URL('../dist/vault-bundle.cjs', import.meta.url)));
  const runDir = await mkdtemp(join(tmpdir(), 'vb-run-'));
  process.env.TMPDIR = runDir;
  const before = await systemState();
  return async () => {
    const after = await systemState();
    const changed = [...after].filter(([p, m]) => before.get(p) !== m).map(([p]) => p);
    const removed = [...before.keys()].filter((p) => !after.has(p));
    const ours: string[] = [];
    for (const p of changed) {
      const text = await readFile(p).then(
        (b) => b.subarray(0, 1 << 20).toString('latin1'),
        () => '',
      );
      if (text.includes(runDir)) ours.push(p);
    }
    await rm(runDir, { recursive: true, force: true });
    const others = [...changed.filter((p) => !ours.includes(p)), ...removed.map((p) => `${p} (removed)`)];
    if (others.length > 0)
      console.warn(`warning: changed while the tests ran, by nothing that names ${runDir} (another process on this machine?): ${others.join(', ')}`);
    if (ours.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code so the run fails.
      process.exitCode = 1;
      throw new Error(`the tests wrote into the real system (point the install options at a temp folder): ${ours.join(', ')}`);
    }
  };
}
