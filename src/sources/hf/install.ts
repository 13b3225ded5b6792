import { constants } from 'node:fs';
import { copyFile, mkdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { localWriteError } from '../../util/errors.js';
import { tempSibling } from '../../util/fs.js';
import type { BoxCtx, InstallReport, Locked } from '../source.js';
import type { SpaceNeed } from '../../util/space.js';
import { repoFolder, safeRepoPath } from './paths.js';

export const PROFILE_SNIPPET = '/etc/profile.d/vault-ai-models.sh';

/**
 * Writes the standard HF cache tree under HF_HOME/hub for every bundled repository, as huggingface_hub
 * itself lays it out: blobs/<etag> (copied from the bundle), snapshots/<commit>/<path> as relative symlinks to
 * them, refs/<revision> holding the commit. Then HF_HOME and the offline switches for every login.
 */
export async function installModels(items: readonly Locked[], ctx: BoxCtx): Promise<InstallReport> {
  const report: InstallReport = { kind: 'hf', changed: [], unchanged: [] };
  const home = hfHome(items);
  for (const item of items) {
    const m = item.meta!;
    const path = m.path!;
    if (!safeRepoPath(path)) throw new Error(`refusing unsafe model file name ${JSON.stringify(path)}`);
    const repo = join(home, 'hub', repoFolder(m.type === 'dataset' ? 'dataset' : 'model', m.repo!));
    const blob = join(repo, 'blobs', m.etag!);
    const link = join(repo, 'snapshots', m.commit!, path);
    const target = relative(dirname(link), blob);
    const haveBlob = (await stat(blob).catch(() => undefined))?.size === item.size;
    const haveLink = (await readlink(link).catch(() => undefined)) === target;
    const label = `${m.repo}@${m.commit!.slice(0, 12)}/${path}`;
    if (haveBlob && haveLink) {
      report.unchanged.push(label);
      continue;
    }
    report.changed.push(label);
    if (ctx.dryRun) continue;
    try {
      if (!haveBlob) {
        await mkdir(dirname(blob), { recursive: true });
        const tmp = tempSibling(blob); // huggingface_hub's own habit: never a half-written blob under its name
        await copyFile(ctx.blobPath(item), tmp, constants.COPYFILE_FICLONE); // a reflink where the file system has one
        await rename(tmp, blob);
      }
      await mkdir(dirname(link), { recursive: true });
      await rm(link, { force: true });
      await symlink(target, link);
    } catch (err) {
      throw localWriteError(err, link);
    }
  }
  if (ctx.options.flat) await writeFlat(items, ctx, ctx.options.flat, report);
  if (!ctx.dryRun) {
    for (const [key, commit] of refsOf(items)) {
      const [type, repoId, revision] = key.split('\0') as [string, string, string];
      const ref = join(home, 'hub', repoFolder(type === 'dataset' ? 'dataset' : 'model', repoId), 'refs', revision);
      await mkdir(dirname(ref), { recursive: true });
      await writeFile(ref, commit); // no newline, like huggingface_hub
    }
    const snippet = `# Written by vault-bundle: models come from the local cache only.\nexport HF_HOME=${home}\nexport HF_HUB_OFFLINE=1\nexport TRANSFORMERS_OFFLINE=1\nexport HF_DATASETS_OFFLINE=1\n`;
    const profile = ctx.options.profile ?? PROFILE_SNIPPET;
    try {
      await writeFile(profile, snippet);
      report.detail = `HF cache at ${home}; ${profile} sets HF_HOME and the offline switches for every login`;
    } catch {
      report.detail = `HF cache at ${home}; could not write ${profile} (not root?): export HF_HOME=${home} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1`;
    }
  }
  return report;
}

/** Each repo's ref the install writes: `type\0repo\0revision` → commit. */
export function refsOf(items: readonly Locked[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of items) {
    const m = i.meta!;
    const rev = /^[0-9a-f]{40}$/.test(m.revision ?? '') ? 'main' : (m.revision ?? 'main');
    out.set(`${m.type}\0${m.repo}\0${rev}`, m.commit!);
  }
  return out;
}

/** `--flat <dir>`: real files at <dir>/<org>/<name>/<path>, for tools that do not follow the cache's symlinks. */
async function writeFlat(items: readonly Locked[], ctx: BoxCtx, dir: string, report: InstallReport): Promise<void> {
  for (const item of items) {
    const m = item.meta!;
    if (!safeRepoPath(m.path!) || !safeRepoPath(m.repo!)) throw new Error(`refusing unsafe model file name ${JSON.stringify(m.path)}`);
    const dest = join(dir, m.repo!, m.path!);
    if ((await stat(dest).catch(() => undefined))?.size === item.size) continue;
    report.changed.push(`flat ${dest}`);
    if (ctx.dryRun) continue;
    try {
      await mkdir(dirname(dest), { recursive: true });
      const tmp = tempSibling(dest);
      await copyFile(ctx.blobPath(item), tmp, constants.COPYFILE_FICLONE); // a reflink where the file system has one
      await rename(tmp, dest);
    } catch (err) {
      throw localWriteError(err, dest);
    }
  }
}

/** HF_HOME the models install into. */
export function hfHome(items: readonly Locked[]): string {
  return items.find((i) => i.meta?.home)?.meta?.home ?? process.env.VAULT_HF_HOME ?? '/opt/vault-ai/models';
}

/** The blobs the HF cache does not hold yet (plus --flat copies). */
export async function modelSpace(items: readonly Locked[], ctx: BoxCtx): Promise<SpaceNeed[]> {
  const home = hfHome(items);
  let bytes = 0;
  for (const item of items) {
    const m = item.meta!;
    if (!m.repo || !m.etag) continue;
    const blob = join(home, 'hub', repoFolder(m.type === 'dataset' ? 'dataset' : 'model', m.repo), 'blobs', m.etag);
    if ((await stat(blob).catch(() => undefined))?.size !== item.size) bytes += item.size;
  }
  const flat = ctx.options.flat;
  return [{ path: home, bytes, what: 'models' }, ...(flat ? [{ path: flat, bytes: items.reduce((n, i) => n + i.size, 0), what: 'flat model copies' }] : [])];
}
