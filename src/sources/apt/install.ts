import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { hexOf } from '../../store/digest.js';
import { LocalError } from '../../util/errors.js';
import type { BoxCtx, InstallReport, Locked } from '../source.js';
import type { SpaceNeed } from '../../util/space.js';
import { BLOBS_DIR } from '../../bundle/layout.js';
import { exists } from '../../util/fs.js';

const CONTROL_ORDER = [
  'Multi-Arch',
  'Essential',
  'Priority',
  'Section',
  'Source',
  'Installed-Size',
  'Pre-Depends',
  'Depends',
  'Recommends',
  'Suggests',
  'Enhances',
  'Provides',
  'Conflicts',
  'Breaks',
  'Replaces',
];

/**
 * A flat repository's Packages index generated from the locked records (not from the .debs), so what apt
 * sees is exactly what was locked and verified. Filename points into the bundle's blobs.
 */
export function packagesIndex(items: readonly Locked[]): string {
  return items
    .map((a) => {
      const arch = a.id.slice(a.id.lastIndexOf(':') + 1);
      const lines = [`Package: ${a.name}`, `Version: ${a.version}`, `Architecture: ${arch}`];
      for (const f of CONTROL_ORDER) if (a.meta?.[f]) lines.push(`${f}: ${a.meta[f]}`);
      lines.push(`Filename: ${BLOBS_DIR}/${hexOf(a.digest)}`, `Size: ${a.size}`, `SHA256: ${hexOf(a.digest)}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/** A signed bundle's flat apt repository index: written by `sign` (the box has no secret key), checked by apt. */
export const APT_PACKAGES = 'apt/Packages';
export const APT_RELEASE = 'apt/Release';
export const APT_INRELEASE = 'apt/InRelease';

/**
 * The Release of the bundle's flat repository (Debian RepositoryFormat, "Flat Repository Format": the Release
 * sits beside Packages and lists it by SHA256; no Suite or Components). Date is the bundle's `created`, so the
 * same bundle gives the same Release whenever it is signed.
 */
export function releaseFile(packages: string, o: { name: string; version: string; created: string; items: readonly Locked[] }): string {
  const archs = [...new Set(o.items.map((a) => a.id.slice(a.id.lastIndexOf(':') + 1)))].sort();
  // RepositoryFormat: Date in RFC 2822 form, time zone UTC.
  const date = new Date(o.created).toUTCString().replace(/GMT$/, 'UTC');
  const sha = createHash('sha256').update(packages).digest('hex');
  return [
    'Origin: vault-bundle',
    `Label: ${o.name}`,
    `Version: ${o.version}`,
    `Date: ${date}`,
    `Architectures: ${archs.join(' ')}`,
    `Description: ${o.name} ${o.version}, signed with the bundle`,
    'SHA256:',
    ` ${sha} ${Buffer.byteLength(packages)} Packages`,
    '',
  ].join('\n');
}

/** apt options that make the bundle the only source and keep every apt state file in the work folder. */
export function isolatedAptOptions(work: string): string[] {
  const o = {
    'Dir::Etc::SourceList': join(work, 'sources.list'),
    'Dir::Etc::SourceParts': join(work, 'sources.list.d'),
    'Dir::State::Lists': join(work, 'lists'),
    'Dir::Cache': join(work, 'cache'),
    'Dir::Cache::pkgcache': '',
    'Dir::Cache::srcpkgcache': '',
    'Acquire::Languages': 'none',
    'APT::Get::List-Cleanup': 'false',
    'Acquire::http::Proxy': 'DIRECT',
  };
  return Object.entries(o).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

export async function installApt(items: readonly Locked[], ctx: BoxCtx): Promise<InstallReport> {
  const report: InstallReport = { kind: 'apt', changed: [], unchanged: [] };
  if (items.length === 0) return report;
  const work = join(ctx.workDir, 'apt');
  const repo = join(work, 'repo');
  await mkdir(join(work, 'sources.list.d'), { recursive: true });
  await mkdir(join(work, 'lists', 'partial'), { recursive: true });
  await mkdir(join(work, 'cache', 'archives', 'partial'), { recursive: true });
  await mkdir(repo, { recursive: true });
  // Each .deb where install found it: the bundle folder, a delta's base, or extracted from a tar or parts.
  await mkdir(join(repo, BLOBS_DIR), { recursive: true });
  for (const a of items) await symlink(ctx.blobPath(a), join(repo, BLOBS_DIR, hexOf(a.digest))).catch(ignoreExisting);
  // A signed bundle whose signature install checked (install --key): apt gets the bundle's own Packages and
  // InRelease and checks them with that key (signed-by), as it would any signed repository. Otherwise the
  // bundle was verified a moment ago (every .deb against SHA256SUMS), so trusting this one local source is sound.
  const signed = ctx.signedBy !== undefined && (await exists(join(ctx.bundleDir, APT_INRELEASE)));
  if (ctx.signedBy !== undefined && !signed) {
    ctx.report({ type: 'warn', message: `the bundle has no ${APT_INRELEASE}: apt trusts its verified .debs (trusted=yes) instead of signed-by`, subject: 'apt' });
  }
  ctx.report({
    type: 'phase',
    phase: 'apt source',
    detail: signed ? "the bundle's signed InRelease, checked by apt with the release key (signed-by)" : 'the verified bundle (trusted=yes)',
  });
  if (signed) {
    await copyFile(join(ctx.bundleDir, APT_PACKAGES), join(repo, 'Packages'));
    await copyFile(join(ctx.bundleDir, APT_INRELEASE), join(repo, 'InRelease'));
    await writeFile(join(work, 'sources.list'), `deb [signed-by=${ctx.signedBy}] file:${repo} ./\n`);
  } else {
    await writeFile(join(repo, 'Packages'), packagesIndex(items));
    await writeFile(join(work, 'sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  }
  const opts = isolatedAptOptions(work);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  const apt = async (args: string[]) => {
    const r = await ctx.exec('apt-get', [...opts, ...args], { env });
    if (r.code !== 0) {
      throw new LocalError({
        code: 'TOOL_FAILED',
        message: `apt-get ${args.filter((a) => !a.startsWith('-')).join(' ')} failed (exit ${r.code}):\n${tail(r.stderr || r.stdout)}`,
        subject: 'apt',
        hint: 'read apt\'s message above; the bundle may lack a package the box needs (rebuild with the box\'s dpkg status as target-status)',
      });
    }
    return r.stdout;
  };
  await apt(['update', '-q']);
  const roots = items
    .filter((a) => a.meta?.pulledBy === '(requested)')
    .map((a) => `${a.name}:${a.id.slice(a.id.lastIndexOf(':') + 1)}=${a.version}`);
  const targets = roots.length > 0 ? roots : items.map((a) => `${a.name}=${a.version}`);
  const plan = await apt(['install', '-s', '-y', ...targets]);
  const inst = [...plan.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`);
  report.changed.push(...inst);
  const changedNames = new Set(inst.map((s) => s.split('=')[0]!.split(':')[0]));
  report.unchanged.push(...items.filter((a) => !changedNames.has(a.name)).map((a) => `${a.name}=${a.version}`));
  report.detail = plan;
  if (ctx.dryRun || inst.length === 0) return report;
  const out = await apt([
    'install',
    '-y',
    '-q',
    '-o',
    'Dpkg::Options::=--force-confdef',
    '-o',
    'Dpkg::Options::=--force-confold',
    ...targets,
  ]);
  report.detail = out;
  return report;
}

function tail(s: string, lines = 15): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

/** apt unpacks into /: the Installed-Size of every bundled package the box does not have at that version. */
export async function aptSpace(items: readonly Locked[], ctx: BoxCtx): Promise<SpaceNeed[]> {
  const q = await ctx.exec('dpkg-query', ['-W', '-f', '${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\\n']).catch(() => undefined);
  const have = new Set(
    (q?.code === 0 ? q.stdout : '')
      .split('\n')
      .filter((l) => /\sii\s*$/.test(l))
      .map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
  );
  let bytes = 0;
  for (const a of items) {
    const arch = a.id.slice(a.id.lastIndexOf(':') + 1);
    if (have.has(`${a.name}:${arch} ${a.version}`)) continue;
    bytes += Number(a.meta?.['Installed-Size'] ?? 0) * 1024 || a.size * 3;
  }
  return [{ path: '/usr', bytes, what: 'apt packages (installed size)' }];
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}
