import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BLOBS_DIR } from '../../store/store.js';
import { hexOf } from '../../store/digest.js';
import { escapeName } from '../../util/escape.js';
import { LocalError, TargetError } from '../../util/errors.js';
import { exists } from '../../util/fs.js';
import type { BoxCtx, Locked } from '../source.js';
import { type AptChange, aptChanges } from './plan.js';
import { APT_INRELEASE, APT_PACKAGES, isolatedAptOptions, packagesIndex } from './repo-files.js';

/** The bundle as apt's only source, in the install's work folder; `run` calls apt-get with that isolated configuration. */
export interface AptView {
  /** name:arch=version of what the manifest asked for (apt pulls in the rest), else every bundled package. */
  targets: string[];
  /** The architecture of the bundle's own packages (what apt prints without `:arch`). */
  nativeArch: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Lays out the flat repository of the bundle's .debs (symlinks to where install found them) and its source
 * list, and runs `apt-get update` against it. `status` replaces the box's dpkg status (tests and the
 * quickstart check resolve against a recorded box). Idempotent: the pre-check and the install share it.
 */
export async function openAptView(items: readonly Locked[], ctx: BoxCtx, o: { status?: string; quiet?: boolean } = {}): Promise<AptView> {
  // One view per install (its work folder): the pre-check's `apt-get update` serves the install too.
  const key = `${ctx.workDir}\0${o.status ?? ''}`;
  const had = views.get(key);
  if (had) {
    if (!o.quiet) reportSource(ctx, had.signed);
    return had;
  }
  const view = await makeAptView(items, ctx, o);
  views.set(key, view);
  return view;
}

const views = new Map<string, AptView & { signed: boolean }>();

function reportSource(ctx: BoxCtx, signed: boolean): void {
  ctx.report({
    type: 'phase',
    phase: 'apt source',
    detail: signed ? "the bundle's signed InRelease, checked by apt with the release key (signed-by)" : 'the verified bundle (trusted=yes)',
  });
}

async function makeAptView(items: readonly Locked[], ctx: BoxCtx, o: { status?: string; quiet?: boolean }): Promise<AptView & { signed: boolean }> {
  const work = join(ctx.workDir, 'apt');
  const repo = join(work, 'repo');
  for (const d of ['sources.list.d', 'lists/partial', 'cache/archives/partial', `repo/${BLOBS_DIR}`]) await mkdir(join(work, d), { recursive: true });
  // Each .deb where install found it: the bundle folder, a delta's base, or extracted from a tar or parts.
  for (const a of items) await symlink(ctx.blobPath(a), join(repo, BLOBS_DIR, hexOf(a.digest))).catch(ignoreExisting);
  // A signed bundle whose signature install checked (install --key): apt gets the bundle's own Packages and
  // InRelease and checks them with that key (signed-by), as it would any signed repository. Otherwise the
  // bundle was verified a moment ago (every .deb against SHA256SUMS), so trusting this one local source is sound.
  const signed = ctx.signedBy !== undefined && (await exists(join(ctx.bundleDir, APT_INRELEASE)));
  if (ctx.signedBy !== undefined && !signed) {
    ctx.report({
      type: 'warn',
      message: `the bundle has no ${APT_INRELEASE}: apt trusts its verified .debs (trusted=yes) instead of signed-by`,
      subject: 'apt',
    });
  }
  if (!o.quiet) reportSource(ctx, signed);
  if (signed) {
    await copyFile(join(ctx.bundleDir, APT_PACKAGES), join(repo, 'Packages'));
    await copyFile(join(ctx.bundleDir, APT_INRELEASE), join(repo, 'InRelease'));
    await writeFile(join(work, 'sources.list'), `deb [signed-by=${ctx.signedBy}] file:${repo} ./\n`);
  } else {
    await writeFile(join(repo, 'Packages'), packagesIndex(items));
    await writeFile(join(work, 'sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  }
  const opts = [...isolatedAptOptions(work), ...(o.status ? ['-o', `Dir::State::status=${o.status}`] : [])];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  const run = (args: string[]) => ctx.exec('apt-get', [...opts, ...args], { env });
  const up = await run(['update', '-q']);
  if (up.code !== 0) throw toolFailed(['update'], up);
  const roots = items.filter((a) => a.meta?.pulledBy === '(requested)').map((a) => `${a.name}:${archOf(a)}=${a.version}`);
  const nativeArch = items.map(archOf).find((a) => a !== 'all') ?? '';
  return { targets: roots.length > 0 ? roots : items.map((a) => `${a.name}=${a.version}`), nativeArch, run, signed };
}

/** One thing apt objects to: `jq` Depends `libjq1 (= 1.6-2.1)` but `1.7.1-3 is to be installed`. */
export interface AptObjection {
  package: string;
  relation: string;
  /** The relation's right side as apt prints it, with the reason ("but 2.39 is to be installed"). */
  detail: string;
}

export type AptSimulation =
  | { ok: true; plan: string; inst: string[]; changes: AptChange[] }
  | { ok: false; objections: AptObjection[]; downgrades: string[]; errors: string[]; output: string };

/** `apt-get install -s` of the whole apt step: apt's own answer to whether it would install on this box. */
export async function simulateApt(view: AptView): Promise<AptSimulation> {
  const r = await view.run(['install', '-s', '-y', ...view.targets]);
  const output = `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`;
  if (r.code === 0)
    return {
      ok: true,
      plan: r.stdout,
      inst: [...r.stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`),
      changes: aptChanges(r.stdout, view.nativeArch),
    };
  return { ok: false, ...parseAptRefusal(output), output };
}

/**
 * What apt objects to, from its own words: the "unmet dependencies" block (`pkg : Depends: X but Y is to be
 * installed`, continuation lines for the same package; Breaks, Conflicts, Pre-Depends alike), the packages it
 * would downgrade, and its `E:` lines.
 */
export function parseAptRefusal(output: string): { objections: AptObjection[]; downgrades: string[]; errors: string[] } {
  const objections: AptObjection[] = [];
  const lines = output.split('\n');
  let pkg: string | undefined;
  let inBlock = false;
  const downgrades: string[] = [];
  let inDowngrades = false;
  for (const line of lines) {
    if (/^The following packages have unmet dependencies:/.test(line)) inBlock = true;
    else if (/^The following packages will be DOWNGRADED:/.test(line)) inDowngrades = true;
    else if (inDowngrades && /^\s+\S/.test(line)) downgrades.push(...line.trim().split(/\s+/));
    else inDowngrades = false;
    if (!inBlock) continue;
    const head = /^\s(\S+)\s*:\s*([A-Za-z-]+):\s*(.+)$/.exec(line);
    const cont = /^\s{2,}([A-Za-z-]+):\s*(.+)$/.exec(line);
    if (head) {
      pkg = head[1]!;
      objections.push({ package: pkg, relation: head[2]!, detail: head[3]!.trim() });
    } else if (cont && pkg) {
      objections.push({ package: pkg, relation: cont[1]!, detail: cont[2]!.trim() });
    } else if (!/^\s/.test(line) && line.trim() !== '' && !line.startsWith('The following')) {
      inBlock = false;
    }
  }
  const errors = lines.filter((l) => /^E: /.test(l)).map((l) => l.slice(3).trim());
  return { objections, downgrades: [...new Set(downgrades)], errors };
}

/** The refusal: nothing was changed, each package apt objects to with why, and the remedy. */
export function aptRefusal(sim: Extract<AptSimulation, { ok: false }>, o: { box?: string } = {}): TargetError {
  const why = [
    ...sim.objections.map((x) => escapeName(`${x.package}: ${x.relation} ${x.detail}`)),
    ...(sim.downgrades.length > 0
      ? [`the box has newer ${escapeName(sim.downgrades.join(', '))}: apt would have to downgrade ${sim.downgrades.length > 1 ? 'them' : 'it'}`]
      : []),
    ...sim.errors.map((e) => `apt: ${escapeName(e)}`),
  ];
  const names = [...new Set([...sim.objections.map((x) => x.package), ...sim.downgrades])].map(escapeName);
  return new TargetError({
    code: 'APT_REFUSED',
    message: `apt would not install this bundle's packages on ${o.box ?? 'this box'}${names.length > 0 ? ` (${names.join(', ')})` : ''}; nothing was changed:\n  ${(why.length > 0 ? why : sim.output.trim().split('\n').slice(-8).map(escapeName)).join('\n  ')}`,
    subject: 'apt',
    hint: 'the bundle was resolved for another box (its apt closure assumes other installed versions): run ./vault-bundle probe --out ../box.json here, then on the build host vault-bundle build <manifest> --target box.json, and install that bundle',
  });
}

/**
 * Runs the simulation and throws APT_REFUSED when apt says no; what `install` calls before anything is
 * written. Returns apt's plan: every package it will install, upgrade, downgrade or remove (history records it).
 */
export async function checkApt(items: readonly Locked[], ctx: BoxCtx, o: { status?: string } = {}): Promise<{ inst: string[]; changes: AptChange[] }> {
  if (items.length === 0) return { inst: [], changes: [] };
  const sim = await simulateApt(await openAptView(items, ctx, { ...o, quiet: true }));
  if (!sim.ok) throw aptRefusal(sim);
  return { inst: sim.inst, changes: sim.changes };
}

export function toolFailed(args: string[], r: { code: number; stdout: string; stderr: string }): LocalError {
  return new LocalError({
    code: 'TOOL_FAILED',
    message: `apt-get ${args.filter((a) => !a.startsWith('-')).join(' ')} failed (exit ${r.code}):\n${tail(`${r.stdout}\n${r.stderr}`)}`,
    subject: 'apt',
    hint: "read apt's message above; the bundle may lack a package the box needs (probe the box and rebuild with --target box.json)",
  });
}

function tail(s: string, lines = 15): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

function archOf(a: Locked): string {
  return a.id.slice(a.id.lastIndexOf(':') + 1);
}

function ignoreExisting(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
}
