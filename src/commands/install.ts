import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BundleIndex } from '../bundle/index.js';
import { INDEX, blobPath } from '../bundle/layout.js';
import { verifyBundle, verifyError } from '../bundle/verify.js';
import { sources } from '../sources/registry.js';
import type { BoxCtx, Exec, InstallReport } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import type { Reporter } from '../util/events.js';
import { UsageError, localWriteError } from '../util/errors.js';
import { withTempDir } from '../util/fs.js';

export interface InstallOptions {
  bundle: string;
  dryRun: boolean;
  stateDir?: string;
  only?: string[];
  /** Also write every model's files as real files under this folder (tools that do not follow symlinks). */
  flat?: string;
  exec: Exec;
  report: Reporter;
  signal: AbortSignal;
}

export interface InstallResult {
  bundle: string;
  name: string;
  version: string;
  dryRun: boolean;
  reports: (InstallReport & { ms: number })[];
  journal?: string;
}

export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/vault-bundle' : join(homedir(), '.local', 'state', 'vault-bundle');
}

/**
 * Verifies the bundle (and refuses one that fails), then installs its artifacts kind by kind in the
 * registry's order (file, apt, pip, hf). Every run is appended to the journal, even a dry run.
 */
export async function installCommand(o: InstallOptions): Promise<InstallResult> {
  const dir = resolve(o.bundle);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${o.bundle}: install needs a bundle folder`,
      subject: o.bundle,
      hint: 'for a tar, extract it first (tar -xf bundle.tar) and give the folder',
    });
  }
  o.report({ type: 'phase', phase: 'verify' });
  const v = await verifyBundle(dir);
  if (!v.ok) throw verifyError(v);
  const index = JSON.parse(await readFile(join(dir, INDEX), 'utf8')) as BundleIndex;
  const stateDir = o.stateDir ?? defaultStateDir();
  const reports: InstallResult['reports'] = [];
  await withTempDir('vault-install', async (workDir) => {
    const ctx: BoxCtx = {
      bundleDir: dir,
      blobPath: (item) => join(dir, blobPath(hexOf(item.digest))),
      workDir,
      stateDir,
      dryRun: o.dryRun,
      options: o.flat ? { flat: resolve(o.flat) } : {},
      exec: o.exec,
      report: o.report,
      signal: o.signal,
    };
    for (const s of sources) {
      if (o.only && !o.only.includes(s.kind)) continue;
      const items = index.artifacts.filter((a) => a.kind === s.kind);
      if (items.length === 0) continue;
      o.report({ type: 'phase', phase: `install ${s.kind}`, detail: `${items.length} artifacts` });
      const t = performance.now();
      const r = await s.install(items, ctx);
      reports.push({ ...r, ms: Math.round(performance.now() - t) });
    }
  });
  const journal = join(stateDir, 'journal.jsonl');
  const entry = {
    time: new Date().toISOString(),
    bundle: { name: index.name, version: index.version, path: dir },
    dryRun: o.dryRun,
    results: reports.map(({ detail: _d, ...r }) => r),
  };
  try {
    await mkdir(stateDir, { recursive: true });
    await appendFile(journal, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    throw localWriteError(err, journal);
  }
  return { bundle: dir, name: index.name, version: index.version, dryRun: o.dryRun, reports, journal };
}
