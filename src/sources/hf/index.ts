import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PackageURL } from 'packageurl-js';
import { openUrl } from '../../fetch/open.js';
import { withRemote } from '../../fetch/part-threads.js';
import type { OpenAt } from '../../store/store.js';
import { ManifestError } from '../../util/errors.js';
import { walk } from '../../util/fs.js';
import type { BuildCtx, Locked, Source } from '../source.js';
import { hashLocalFile } from './hash.js';
import { resolveHub, tokenHeader } from './hub.js';
import { installModels, modelSpace } from './install.js';

export { gitBlobSha1 } from './hash.js';
import { selected } from './paths.js';
import { gatedHint, refuseHostile } from './hub-meta.js';
import { modelLicence } from './licence.js';
import { lockedFile } from './locked.js';
import { type HfLocalModel, type HfSpec, hfSchema } from './schema.js';

const PUBLIC_HUB = 'https://huggingface.co';

/**
 * With a probed box (`--target`): leaves out each repo@commit that the box's HF cache (the same HF_HOME)
 * already has, every locked file in its snapshot and the ref install would write (refs/main, or the tag or
 * branch) already naming that commit, so loading by repo id there finds it as the bundle would leave it.
 */
function leaveOutCached(items: Locked[], spec: HfSpec, ctx: BuildCtx): Locked[] {
  const hf = ctx.box?.hf;
  if (!ctx.box || !hf?.present) return items;
  if (hf.home !== spec.home) {
    ctx.report({
      type: 'warn',
      message: `hf: the probe read the models in ${hf.home}, the manifest installs into ${spec.home}; every model is bundled`,
      subject: 'hf.home',
    });
    return items;
  }
  const keyOf = (type: string, repo: string, commit: string) => `${type}\0${repo}\0${commit}`;
  const box = new Map<string, { files: Set<string>; refs: Record<string, string> }>();
  for (const r of hf.repos) for (const s of r.snapshots) box.set(keyOf(r.type, r.repo, s.commit), { files: new Set(s.files), refs: r.refs });
  const groups = new Map<string, Locked[]>();
  for (const i of items) {
    const k = keyOf(i.meta!.type!, i.meta!.repo!, i.meta!.commit!);
    groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const cached = new Set<string>();
  for (const [k, group] of groups) {
    const have = box.get(k);
    const m = group[0]!.meta!;
    const ref = /^[0-9a-f]{40}$/.test(m.revision ?? '') ? 'main' : (m.revision ?? 'main');
    if (have && have.refs[ref] === m.commit && group.every((i) => have.files.has(i.meta!.path!))) cached.add(k);
  }
  if (cached.size === 0) return items;
  const names = [...cached].map((k) => k.split('\0').slice(1).join('@'));
  ctx.report({ type: 'info', message: `hf: ${hf.home} on ${ctx.box.hostname} already has ${names.join(', ')}; left out` });
  return items.filter((i) => !cached.has(keyOf(i.meta!.type!, i.meta!.repo!, i.meta!.commit!)));
}

export const hfSource: Source<HfSpec> = {
  kind: 'hf',
  section: 'hf',
  schema: hfSchema,

  async resolve(spec, ctx) {
    const endpoint = (spec.endpoint ?? process.env.HF_ENDPOINT ?? PUBLIC_HUB).replace(/\/+$/, '');
    const parts = await Promise.all(spec.models.map((m) => ('local' in m ? resolveLocal(m, spec, ctx) : resolveHub(m, spec, endpoint, ctx))));
    return leaveOutCached(parts.flat(), spec, ctx);
  },

  open(item, ctx) {
    if (item.url.startsWith('file:')) return openUrl(item.url, item.size, item.id, ctx);
    const auth = tokenHeader();
    const openAt: OpenAt = async (offset, end) => {
      const r = await ctx.http
        .get(item.url, { offset, ...(end !== undefined ? { end } : {}), signal: ctx.signal, maxLength: item.size, subject: item.id, headers: auth })
        .catch((err: unknown) => {
          throw gatedHint(err);
        });
      return { startedAt: r.startedAt, body: r.body };
    };
    // A plain GET: a big file's ranges may be fetched on threads (errors other than a broken link come back here).
    return withRemote(openAt, item.url, auth);
  },

  install: installModels,
  space: modelSpace,
};

async function resolveLocal(m: HfLocalModel, spec: HfSpec, ctx: BuildCtx): Promise<Locked[]> {
  const subject = `hf:${m.repo}`;
  const root = isAbsolute(m.local) ? m.local : resolvePath(ctx.baseDir, m.local);
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${subject}: local folder ${root} does not exist`,
      subject,
      hint: 'point "local" at a model folder or an HF cache repo folder (models--org--name)',
    });
  }
  // An HF cache repo folder (models--org--name, or HF_HOME/hub holding one): take its snapshot.
  let dir = root;
  let commit = m.revision;
  const cacheRepo = (await stat(join(root, 'snapshots')).catch(() => undefined)) ? root : undefined;
  if (cacheRepo) {
    commit ??= (await readFile(join(cacheRepo, 'refs', 'main'), 'utf8').catch(() => '')).trim() || (await readdir(join(cacheRepo, 'snapshots')))[0];
    if (!commit) throw new ManifestError({ code: 'MANIFEST_FIELD', message: `${subject}: ${root} has no snapshot`, subject });
    dir = join(cacheRepo, 'snapshots', commit);
  }
  const found: { path: string; sha256: string; size: number; gitOid: string }[] = [];
  for (const e of await walk(dir)) {
    if (e.kind === 'dir' || e.path.split('/').some((s) => s.startsWith('.'))) continue;
    if (!selected(e.path, m.include, m.exclude)) continue;
    refuseHostile(e.path, subject);
    found.push({ path: e.path, ...(await hashLocalFile(join(dir, e.path), subject)) }); // follows a snapshot's symlinks into blobs/
  }
  if (found.length === 0) throw new ManifestError({ code: 'MANIFEST_FIELD', message: `${subject}: no files in ${dir}`, subject });
  // A plain folder has no commit: derive a stable one from its content, so a changed folder is a new revision.
  const derived = commit === undefined;
  commit ??= createHash('sha1')
    .update(found.map((f) => `${f.path}\0${f.sha256}\n`).join(''))
    .digest('hex');
  const [ns, name] = m.repo.split('/') as [string, string];
  const card = m.license ? undefined : await readFile(join(dir, 'README.md'), 'utf8').catch(() => undefined);
  const license = modelLicence(m.license, card);
  return found.map((f) => {
    const lfs = f.size > 10 << 20 || /\.(safetensors|bin|pt|pth|gguf|onnx|msgpack|h5|npz)$/.test(f.path);
    const l = lockedFile(m.repo, m.type, commit, 'main', f.path, f.sha256, f.size, f.gitOid, lfs, pathToFileURL(join(dir, f.path)).href, {
      kind: 'manifest-pin',
      manifest: ctx.manifestPath,
    });
    if (license) Object.assign(l.meta!, license);
    l.meta!.home = spec.home;
    // Nothing here came from the Hub: a huggingface purl would name a Hub commit that may not exist there.
    l.purl = new PackageURL('generic', ns, name, commit).toString();
    l.meta!.origin = 'local';
    l.meta!.versionFrom = derived ? 'files' : 'hf-cache';
    return l;
  });
}
