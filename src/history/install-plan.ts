import type { BundleIndex } from '../bundle/index.js';
import { dpkgInstalled, versionOn } from '../sources/apt/plan.js';
import { normalizeName } from '../sources/pip/pep440.js';
import { venvOf } from '../sources/pip/install.js';
import type { Exec, PlannedChange } from '../sources/source.js';
import { readImageVersion } from '../state/image-version.js';
import { hashFile } from '../store/store.js';
import type { Plan, PlanStep } from '../util/plan.js';
import { refsBefore, venvBefore } from './record.js';

/**
 * What an install will change, in the plan format rollback prints too (util/plan.ts): apt from apt's own
 * simulation (every package it installs, upgrades, downgrades or removes), the venv's distributions, model
 * refs, files and the stamp, each from what the box has now to what the bundle brings.
 */
export async function installPlan(
  index: BundleIndex,
  o: { aptPlan?: readonly PlannedChange[]; exec: Exec; stampFile: string; only?: readonly string[] },
): Promise<Plan> {
  const want = (k: string) => !o.only || o.only.includes(k);
  const by = (k: string) => (want(k) ? index.artifacts.filter((a) => a.kind === k) : []);
  const steps: PlanStep[] = [];
  const none = (v: string | null, word: string) => v ?? word;
  if (o.aptPlan) {
    for (const c of o.aptPlan)
      steps.push({ kind: 'apt', what: `${c.package}:${c.arch}`, from: none(c.before, '(not installed)'), to: none(c.after, '(removed)') });
  } else if (by('apt').length > 0) {
    const have = await dpkgInstalled(o.exec);
    for (const a of by('apt')) {
      const arch = a.id.split(':').at(-1) ?? '';
      const now = versionOn(have, a.name, arch);
      if (now !== a.version) steps.push({ kind: 'apt', what: `${a.name}:${arch}`, from: none(now, '(not installed)'), to: a.version });
    }
  }
  const wheels = by('pip');
  if (wheels.length > 0) {
    const now = new Map(((await venvBefore(venvOf(wheels), o.exec)) ?? []).map((d) => [normalizeName(d.name), d.version]));
    for (const w of wheels) {
      const cur = now.get(normalizeName(w.name));
      if (cur !== w.version) steps.push({ kind: 'pip', what: w.name, from: cur ?? '(not installed)', to: w.version });
    }
  }
  for (const h of await refsBefore(by('hf')))
    if (h.before !== h.after) steps.push({ kind: 'hf', what: `${h.repo}@${h.ref}`, from: h.before ?? '(none)', to: h.after });
  for (const f of by('file')) {
    const dest = f.meta?.dest;
    const now = dest ? ((await hashFile(dest).catch(() => undefined))?.digest ?? null) : null;
    if (dest && now !== f.digest) steps.push({ kind: 'file', what: dest, from: now ?? '(none)', to: f.digest });
  }
  const stamp = await readImageVersion(o.stampFile);
  if (!o.only && stamp?.version !== index.version) steps.push({ kind: 'stamp', what: o.stampFile, from: stamp?.version ?? '(none)', to: index.version });
  return { title: `install of ${index.name} ${index.version} over ${stamp ? `${stamp.bundle} ${stamp.version}` : 'an unstamped box'}`, steps };
}
