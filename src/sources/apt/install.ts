import type { BoxCtx, InstallReport, Locked } from '../source.js';
import type { SpaceNeed } from '../../util/space.js';
import { aptRefusal, openAptView, simulateApt, toolFailed } from './simulate.js';

export { APT_INRELEASE, APT_PACKAGES, APT_RELEASE, isolatedAptOptions, packagesIndex, releaseFile } from './repo-files.js';

/**
 * Installs the bundle's .debs with the real apt-get, the bundle being its only source: apt's simulation of
 * the whole step first (a refusal is APT_REFUSED, naming what apt objects to, before apt changes anything),
 * then, unless a dry run or nothing is missing, the install itself.
 */
export async function installApt(items: readonly Locked[], ctx: BoxCtx): Promise<InstallReport> {
  const report: InstallReport = { kind: 'apt', changed: [], unchanged: [] };
  if (items.length === 0) return report;
  const view = await openAptView(items, ctx);
  const sim = await simulateApt(view);
  if (!sim.ok) throw aptRefusal(sim);
  report.changed.push(...sim.inst);
  const changedNames = new Set(sim.inst.map((s) => s.split('=')[0]!.split(':')[0]));
  report.unchanged.push(...items.filter((a) => !changedNames.has(a.name)).map((a) => `${a.name}=${a.version}`));
  report.detail = sim.plan;
  if (ctx.dryRun || sim.inst.length === 0) return report;
  const args = ['install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...view.targets];
  const r = await view.run(args);
  if (r.code !== 0) throw toolFailed(args, r);
  report.detail = r.stdout;
  return report;
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
