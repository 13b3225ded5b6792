import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { PackageURL } from 'packageurl-js';
import { fetchSmall, openUrl } from '../../fetch/open.js';
import { digestOf, hexOf } from '../../store/digest.js';
import { hashFile } from '../../store/store.js';
import { IntegrityError, ManifestError, UpstreamError } from '../../util/errors.js';
import type { BuildCtx, Locked, Source } from '../source.js';
import { boxPython, leaveOutInstalled } from './box.js';
import { installPip, pipSpace, requirementsLock } from './install.js';
import { targetEnv } from './markers.js';
import { normalizeName } from './pep440.js';
import { type Chosen, PipResolveError, resolveWheels, type Want } from './resolve.js';
import { type PipSpec, pipSchema } from './schema.js';
import { type IndexFile, listProject } from './simple.js';
import { targetTags } from './tags.js';
import { wheelMetadata } from './wheel-file.js';

const PYPI = 'https://pypi.org/simple';

export const pipSource: Source<PipSpec> = {
  kind: 'pip',
  section: 'pip',
  schema: pipSchema,

  async resolve(spec, ctx) {
    const { python, tags, env } = targetOf(spec, ctx);
    const indexes = spec['no-index'] ? [] : [spec['index-url'] ?? PYPI, ...spec['extra-index-urls']];
    const wheelhouse = await findLinks(spec['find-links'].map((d) => resolvePath(ctx.baseDir, d)));
    const roots = await rootsOf(spec, ctx);
    const list = async (project: string) => {
      const remote = (await Promise.all(indexes.map((ix) => listProject(ix, project, ctx)))).flat();
      return [...(wheelhouse.get(project) ?? []), ...remote];
    };
    // Wheels whose bytes this lock fetched (and the store proved against the index's sha256 as it wrote them).
    const fetched = new Set<string>();
    const metadata = (f: IndexFile): Promise<string> => metadataOf(f, ctx, fetched);
    let chosen: Chosen[];
    try {
      chosen = await resolveWheels(roots, { list, metadata, env, tags, python });
    } catch (err) {
      throw err instanceof PipResolveError ? resolveError(err) : err;
    }
    const ids = new Map(chosen.map((c) => [c.name, `pip:${c.name}@${c.version}`]));
    const locked = await Promise.all(chosen.map((c) => lockChosen(c, ids, spec, ctx, fetched)));
    return leaveOutInstalled(locked, spec, ctx);
  },

  open(item, ctx) {
    return openUrl(item.url, item.size, item.id, ctx);
  },

  views: (items) => ({ 'pip/requirements.lock': requirementsLock(items) }),

  install: installPip,
  space: pipSpace,
};

/** `meta.bytes` of a wheel this lock did not fetch: pinned by the index's sha256, its bytes first checked by build. */
export const UNCHECKED = 'unchecked';

/** The target's Python, wheel tags (narrowed by `platforms`) and marker environment; a probed box (--target) gives its own. */
function targetOf(spec: PipSpec, ctx: BuildCtx): { python: string; tags: string[]; env: ReturnType<typeof targetEnv> } {
  const python = spec.python ?? ctx.target.python;
  if (!python) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${ctx.manifestPath}: pip needs the target's Python`,
      subject: 'pip.python',
      hint: 'set target.python (e.g. "3.12") or pip.python',
    });
  }
  const machine = ctx.target.arch === 'arm64' ? 'aarch64' : 'x86_64';
  // A probed box (--target) gives its interpreter's own tags and full version.
  const box = boxPython(ctx, python);
  const all =
    box?.tags ?? targetTags({ python, implementation: spec.implementation, ...(spec.abi ? { abi: spec.abi } : {}), glibc: spec.glibc, arch: machine });
  // Explicit platforms narrow the target's tags (pure-Python `any` wheels always fit).
  const tags = spec.platforms ? all.filter((t) => t.endsWith('-any') || spec.platforms!.includes(t.split('-')[2]!)) : all;
  const env = targetEnv({ python, platform: 'linux', machine, ...box?.env });
  return { python, tags, env };
}

/** A candidate wheel's core metadata: from a local wheel, PEP 658's file beside it (hash-checked), else the wheel itself. */
async function metadataOf(f: IndexFile, ctx: BuildCtx, fetched: Set<string>): Promise<string> {
  if (f.url.startsWith('file:')) return wheelMetadata(fileURLToPath(f.url));
  if (f.metadata) {
    // PEP 658: the core metadata file next to the wheel, checked against its hash when the index gives one.
    const body = await fetchSmall(`${f.url}.metadata`, 8 << 20, `pip:${f.filename}`, ctx);
    const want = f.metadata.sha256;
    const got = createHash('sha256').update(body).digest('hex');
    if (want && want !== got) {
      throw new IntegrityError({
        code: 'DIGEST_MISMATCH',
        message: `pip:${f.filename}.metadata: expected sha256 ${want}, found ${got}`,
        subject: `pip:${f.filename}`,
        expected: want,
        found: got,
      });
    }
    return body.toString('utf8');
  }
  const item = await lockedOf(f, ctx);
  await ctx.store.put(
    { digest: item.digest, size: item.size, subject: item.id, pinnedBy: 'index-hash' },
    openUrl(item.url, item.size, item.id, ctx, 'index-hash'),
  );
  fetched.add(f.url);
  return wheelMetadata(ctx.store.path(item.digest));
}

/** The resolver's failure as the user's problem, with what to do about it. */
function resolveError(err: PipResolveError): UpstreamError {
  return new UpstreamError({
    code: err.code === 'CONFLICT' ? 'CLOSURE_MISSING' : 'NOT_FOUND_IN_INDEX',
    message: `pip: ${err.message}`,
    subject: `pip:${err.project}`,
    hint:
      err.code === 'NO_WHEEL'
        ? 'vault-bundle bundles wheels only: build one (pip wheel) into a find-links folder, or pin a version that has a wheel for the target'
        : err.code === 'CONFLICT'
          ? 'pin a version both requirers accept'
          : 'check the name and version, and that the index (or find-links folder) has it',
    cause: err,
  });
}

/** A chosen wheel as locked: its --hash pins checked, its venv, its Requires-Dist edges and who pulled it in. */
async function lockChosen(c: Chosen, ids: Map<string, string>, spec: PipSpec, ctx: BuildCtx, fetched: Set<string>): Promise<Locked> {
  const item = await lockedOf(c.file, ctx, c);
  if (c.pinnedHashes.length && !c.pinnedHashes.includes(hexOf(item.digest))) {
    throw new IntegrityError({
      code: 'DIGEST_MISMATCH',
      message: `pip:${c.name}: ${c.file.filename} has sha256 ${hexOf(item.digest)}, not one of the --hash pins`,
      subject: `pip:${c.name}`,
      expected: c.pinnedHashes.join(' or '),
      found: hexOf(item.digest),
    });
  }
  const meta: Record<string, string> = { ...item.meta, venv: spec.venv };
  // Resolved from PEP 658 metadata alone: the index's sha256 is the pin, and build is the first to check the bytes.
  if (!c.file.url.startsWith('file:') && !fetched.has(c.file.url)) meta.bytes = UNCHECKED;
  if (c.dependsOn.size)
    meta.dependsOn = [...c.dependsOn]
      .map((n) => ids.get(n)!)
      .sort()
      .join(' ');
  meta.pulledBy = c.chain.length ? `${ids.get(normalizeName(c.chain[0]!.split('==')[0]!)) ?? c.chain[0]} Requires-Dist` : '(requested)';
  return { ...item, meta };
}

async function lockedOf(f: IndexFile, ctx: BuildCtx, c?: Chosen): Promise<Locked> {
  const name = normalizeName(f.filename.split('-')[0]!);
  const version = f.filename.split('-')[1]!;
  let size: number;
  let sha = f.sha256;
  if (f.url.startsWith('file:')) {
    const h = await hashFile(fileURLToPath(f.url));
    size = h.size;
    sha = hexOf(h.digest);
  } else {
    size = f.size ?? (await probeSize(f.url, ctx, `pip:${name}`));
  }
  if (!sha) {
    sha = c?.pinnedHashes[0];
    if (!sha) {
      throw new UpstreamError({
        code: 'NOT_FOUND_IN_INDEX',
        message: `pip:${name}: the index gives no sha256 for ${f.filename}`,
        subject: `pip:${name}`,
        hint: 'use an index that publishes hashes (PEP 503 #sha256= or PEP 691), or pin it with --hash in a requirements file',
      });
    }
  }
  const meta: Record<string, string> = { filename: f.filename };
  if (c?.license) meta.license = c.license;
  return {
    kind: 'pip',
    id: `pip:${name}@${version}`,
    name,
    version,
    digest: digestOf(sha),
    size,
    url: f.url,
    purl: new PackageURL('pypi', undefined, name, version, { file_name: f.filename }).toString(),
    provenance: f.url.startsWith('file:') ? { kind: 'manifest-pin', manifest: ctx.manifestPath } : { kind: 'index-hash', index: f.index },
    meta,
  };
}

async function probeSize(url: string, ctx: BuildCtx, subject: string): Promise<number> {
  const r = await ctx.http.get(url, { headers: { range: 'bytes=0-0' }, signal: ctx.signal, maxLength: ctx.limits.maxDownloadBytes, subject });
  for await (const _ of r.body) break;
  if (r.totalSize === undefined) throw new UpstreamError({ code: 'HTTP_STATUS', message: `${subject}: ${url} does not say its size`, subject });
  return r.totalSize;
}

/** Wheels in local folders, by normalised project name. */
async function findLinks(dirs: string[]): Promise<Map<string, IndexFile[]>> {
  const out = new Map<string, IndexFile[]>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `pip.find-links: cannot read folder ${dir}`,
        subject: 'pip.find-links',
        hint: 'give a folder of .whl files, relative to the manifest',
      });
    }
    for (const n of names.filter((x) => x.endsWith('.whl') || /\.(tar\.gz|zip)$/.test(x)).sort()) {
      const project = normalizeName(n.split('-')[0]!);
      const path = join(dir, n);
      if (!(await stat(path)).isFile()) continue;
      out.set(project, [
        ...(out.get(project) ?? []),
        { filename: n, url: pathToFileURL(path).href, yanked: false, metadata: false, index: pathToFileURL(dir).href },
      ]);
    }
  }
  return out;
}

/** Requirements from the manifest's inline list and its requirements file (`name==1.0 --hash=sha256:…`). */
async function rootsOf(spec: PipSpec, ctx: BuildCtx): Promise<Want[]> {
  const lines = [...spec.packages];
  let file: string | undefined;
  if (spec.requirements) {
    file = isAbsolute(spec.requirements) ? spec.requirements : resolvePath(ctx.baseDir, spec.requirements);
    const text = await readFile(file, 'utf8').catch(() => {
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `pip.requirements: cannot read ${file}`,
        subject: 'pip.requirements',
        hint: 'give a requirements file relative to the manifest',
      });
    });
    lines.push(...text.replace(/\\\r?\n/g, ' ').split(/\r?\n/));
  }
  const out: Want[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const hashes = [...line.matchAll(/--hash[=\s]sha256:([0-9a-fA-F]{64})/g)].map((m) => m[1]!.toLowerCase());
    const req = line.replace(/--hash[=\s]\S+/g, '').trim();
    if (req.startsWith('-')) {
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `${file ?? 'pip.packages'}:${i + 1}: option "${req.split(/\s/)[0]}" is not supported in requirements`,
        subject: file ?? 'pip.packages',
        hint: 'put indexes in pip.index-url / pip.extra-index-urls and find-links in pip.find-links',
      });
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$/.exec(req);
    if (!m)
      throw new ManifestError({
        code: 'MANIFEST_FIELD',
        message: `${file ?? 'pip.packages'}: cannot parse requirement "${req}"`,
        subject: req,
        hint: 'write name==version',
      });
    out.push({
      name: m[1]!,
      extras: m[2]
        ? m[2]
            .slice(1, -1)
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean)
        : [],
      specifier: m[3] ?? '',
      hashes,
      chain: [],
    });
  }
  if (out.length === 0) {
    throw new ManifestError({
      code: 'MANIFEST_FIELD',
      message: `${ctx.manifestPath}: pip has no requirements`,
      subject: 'pip.packages',
      hint: 'list packages (name==version) or a requirements file',
    });
  }
  return out;
}
