import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isolatedAptOptions } from '../sources/apt/repo-files.js';
import { aptChanges, autoInstalled, dpkgBroken, dpkgInstalled, versionOn } from '../sources/apt/plan.js';
import { aptRefusal, openAptView, simulateApt, toolFailed } from '../sources/apt/simulate.js';
import { normalizeName } from '../sources/pip/pep440.js';
import type { BoxCtx, Exec } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import { LocalError } from '../util/errors.js';
import type { PlanStep } from '../util/plan.js';
import type { Earlier, Need } from './earlier.js';
import { type HistoryRecord, venvBefore } from './record.js';

/** What undoing the apt and pip parts of a record takes, against the box now: the steps, what they need, and the work lists. */
export interface UndoWork {
  steps: PlanStep[];
  needs: Need[];
  /** name:arch=version to install (downgrades and packages the newer install removed). */
  aptInstall: string[];
  /** Some of them are at the recorded version but half-installed (a killed dpkg): apt-get install --reinstall. */
  aptReinstall: boolean;
  /** Packages the newer install added: marked auto, removed unless something else needs them. */
  aptAdded: string[];
  /** Auto flags to set back (name:arch → auto?). */
  aptMarks: { pkg: string; auto: boolean }[];
  pip?: { venv: string; removeVenv: boolean; install: Need[]; uninstall: string[] };
}

const NO_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };

/** apt-get with an empty source list of its own (autoremove's simulation needs none of the box's sources). */
async function plainApt(exec: Exec, workDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const work = join(workDir, 'apt-plain');
  await mkdir(join(work, 'lists/partial'), { recursive: true });
  await mkdir(join(work, 'sources.list.d'), { recursive: true });
  await mkdir(join(work, 'cache/archives/partial'), { recursive: true });
  await writeFile(join(work, 'sources.list'), '');
  return exec('apt-get', [...isolatedAptOptions(work), ...args], { env: NO_ENV });
}

/** The apt and pip steps of undoing `record`: what differs between the box now and what the record says it had. */
export async function planUndo(record: HistoryRecord, exec: Exec, workDir: string): Promise<UndoWork> {
  const w: UndoWork = { steps: [], needs: [], aptInstall: [], aptReinstall: false, aptAdded: [], aptMarks: [] };
  if (record.apt.length > 0) {
    const [have, auto, broken] = [await dpkgInstalled(exec), await autoInstalled(exec), await dpkgBroken(exec)];
    const isAuto = (p: string, a: string) => auto.has(p) || auto.has(`${p}:${a}`);
    // Unpacked but not configured (a killed dpkg) counts as there: it is what the newer install left.
    const present = (p: string, a: string) => versionOn(have, p, a) ?? (broken.get(`${p}:${a}`) ?? broken.get(`${p}:all`))?.version ?? null;
    const added = record.apt.filter((a) => a.before === null && present(a.package, a.arch) !== null);
    // A package the newer install added that apt would keep (something needs it) and that is auto already: done.
    const removable = added.length > 0 ? await autoremovable(exec, workDir) : new Set<string>();
    for (const a of record.apt) {
      const now = versionOn(have, a.package, a.arch);
      const what = `${a.package}:${a.arch}`;
      if (a.before === null) continue;
      const half = broken.get(what) ?? broken.get(`${a.package}:all`);
      if (now !== a.before || half) {
        w.steps.push({ kind: 'apt', what, from: half ? `${half.version} (dpkg status ${half.status})` : (now ?? '(not installed)'), to: a.before });
        if (half?.version === a.before) w.aptReinstall = true;
        w.needs.push({ kind: 'apt', name: a.package, version: a.before, arch: a.arch });
        w.aptInstall.push(`${what}=${a.before}`);
      }
      if (now !== a.before || isAuto(a.package, a.arch) !== a.auto) {
        if (now === a.before) w.steps.push({ kind: 'apt-mark', what, from: a.auto ? 'manual' : 'auto', to: a.auto ? 'auto' : 'manual' });
        w.aptMarks.push({ pkg: what, auto: a.auto });
      }
    }
    // What the newer install added: removed again unless something else needs it. Once the versions are back,
    // one that is auto and that apt would not autoremove is needed by something else: nothing left to do.
    for (const a of added) {
      if (w.aptInstall.length === 0 && isAuto(a.package, a.arch) && !removable.has(a.package)) continue;
      const what = `${a.package}:${a.arch}`;
      w.steps.push({ kind: 'apt', what, from: present(a.package, a.arch)!, to: '(removed, unless something else needs it)' });
      w.aptAdded.push(what);
    }
  }
  if (record.pip) await planPip(record.pip, exec, w);
  return w;
}

async function planPip(rec: NonNullable<HistoryRecord['pip']>, exec: Exec, w: UndoWork): Promise<void> {
  const now = await venvBefore(rec.venv, exec);
  if (rec.before === null) {
    if (now !== null) {
      w.steps.push({ kind: 'pip', what: rec.venv, from: `${now.length} distributions`, to: '(removed: there was no venv before)' });
      w.pip = { venv: rec.venv, removeVenv: true, install: [], uninstall: [] };
    }
    return;
  }
  const nowBy = new Map((now ?? []).map((d) => [normalizeName(d.name), d]));
  const wasBy = new Set(rec.before.map((d) => normalizeName(d.name)));
  const install: Need[] = [];
  const uninstall: string[] = [];
  for (const d of rec.before) {
    const cur = nowBy.get(normalizeName(d.name));
    if (cur?.version === d.version) continue;
    w.steps.push({ kind: 'pip', what: d.name, from: cur?.version ?? '(not installed)', to: d.version });
    install.push({ kind: 'pip', name: d.name, version: d.version });
  }
  for (const d of now ?? []) {
    if (wasBy.has(normalizeName(d.name))) continue;
    w.steps.push({ kind: 'pip', what: d.name, from: d.version, to: '(uninstalled)' });
    uninstall.push(d.name);
  }
  w.needs.push(...install);
  if (install.length > 0 || uninstall.length > 0) w.pip = { venv: rec.venv, removeVenv: false, install, uninstall };
}

/** The packages apt would autoremove now (its own simulation). */
async function autoremovable(exec: Exec, workDir: string): Promise<Set<string>> {
  const r = await plainApt(exec, workDir, ['-s', 'autoremove']);
  return new Set(aptChanges(r.stdout).map((c) => c.package));
}

/** The BoxCtx of apt's view over the earlier bundle's checked .debs. */
function ctxOf(earlier: Earlier, workDir: string, o: { exec: Exec; report: BoxCtx['report']; signal: AbortSignal; stateDir: string }): BoxCtx {
  return {
    bundleDir: workDir,
    blobPath: (a) => earlier.paths.get(a.digest)!,
    workDir,
    stateDir: o.stateDir,
    dryRun: false,
    options: {},
    exec: o.exec,
    report: o.report,
    signal: o.signal,
  };
}

const APT_INSTALL = ['install', '-y', '-q', '--allow-downgrades', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold'];

/** apt's simulation of the downgrade before anything changes: a refusal is APT_REFUSED, nothing changed. */
export async function checkUndoApt(w: UndoWork, earlier: Earlier | undefined, o: Parameters<typeof ctxOf>[2] & { workDir: string }): Promise<void> {
  if (w.aptInstall.length === 0 || !earlier) return;
  const items = earlier.items.filter((a) => a.kind === 'apt');
  const view = await openAptView(items, ctxOf(earlier, o.workDir, o), { quiet: true });
  const extra = ['--allow-downgrades', ...(w.aptReinstall ? ['--reinstall'] : [])];
  const sim = await simulateApt({ ...view, targets: w.aptInstall, run: (args) => view.run(args[0] === 'install' ? [...args, ...extra] : args) });
  if (!sim.ok) throw aptRefusal(sim);
}

/** Puts apt back: the recorded versions from the earlier bundle, the added packages auto and autoremoved, the auto flags. */
export async function undoApt(w: UndoWork, earlier: Earlier | undefined, o: Parameters<typeof ctxOf>[2] & { workDir: string }): Promise<void> {
  // A dpkg run that was killed (power cut, kill -9 mid-install) leaves packages half-configured: finish them first, as apt asks.
  const audit = await o.exec('dpkg', ['--audit'], { env: NO_ENV }).catch(() => undefined);
  if (audit?.stdout.trim()) await o.exec('dpkg', ['--configure', '-a', '--force-confdef', '--force-confold'], { env: NO_ENV });
  if (w.aptInstall.length > 0 && earlier) {
    const items = earlier.items.filter((a) => a.kind === 'apt');
    const view = await openAptView(items, ctxOf(earlier, o.workDir, o), { quiet: true });
    const args = [...APT_INSTALL, ...(w.aptReinstall ? ['--reinstall'] : []), ...w.aptInstall];
    const r = await view.run(args);
    if (r.code !== 0) throw toolFailed(args, r);
  }
  if (w.aptAdded.length > 0) {
    await mustRun(o.exec, 'apt-mark', ['auto', ...w.aptAdded]);
    const gone = await autoremovable(o.exec, o.workDir);
    const remove = w.aptAdded.filter((p) => gone.has(p.split(':')[0]!));
    if (remove.length > 0) {
      const r = await plainApt(o.exec, o.workDir, ['remove', '-y', '-q', ...remove]);
      if (r.code !== 0) throw toolFailed(['remove', ...remove], r);
    }
  }
  const auto = w.aptMarks.filter((m) => m.auto).map((m) => m.pkg);
  const manual = w.aptMarks.filter((m) => !m.auto).map((m) => m.pkg);
  if (auto.length > 0) await mustRun(o.exec, 'apt-mark', ['auto', ...auto]);
  if (manual.length > 0) await mustRun(o.exec, 'apt-mark', ['manual', ...manual]);
}

/** Puts the venv back: the recorded pins from the earlier bundle's checked wheels (hashes required), the added ones uninstalled. */
export async function undoPip(w: UndoWork, earlier: Earlier | undefined, o: { exec: Exec; workDir: string }): Promise<void> {
  const p = w.pip;
  if (!p) return;
  if (p.removeVenv) {
    await rm(p.venv, { recursive: true, force: true });
    return;
  }
  const py = join(p.venv, 'bin', 'python');
  const env = { ...process.env, PIP_NO_INDEX: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', LC_ALL: 'C.UTF-8' };
  const wheels = join(o.workDir, 'wheels');
  // A venv made without pip (no ensurepip on the box) ran pip from the bundle's pip wheel: so does this.
  const hasPip = (await o.exec(py, ['-m', 'pip', '--version'], { env })).code === 0;
  const pipWheel = earlier?.items.find((a) => a.kind === 'pip' && a.name === 'pip')?.meta?.filename;
  const pip = hasPip ? [py, '-m', 'pip'] : pipWheel ? [py, join(wheels, pipWheel, 'pip')] : [py, '-m', 'pip'];
  if (p.install.length > 0 && earlier) {
    await mkdir(wheels, { recursive: true });
    const pins = earlier.items.filter((a) => a.kind === 'pip');
    for (const a of pins)
      await symlink(earlier.paths.get(a.digest)!, join(wheels, a.meta?.filename ?? `${a.name}-${a.version}-py3-none-any.whl`)).catch(() => undefined);
    const req = join(o.workDir, 'rollback-requirements.txt');
    await writeFile(req, pins.map((a) => `${a.name}==${a.version} --hash=sha256:${hexOf(a.digest)}\n`).join(''));
    const args = [...pip.slice(1), 'install', '--no-index', '--no-deps', '--find-links', wheels, '--require-hashes', '--only-binary=:all:', '-r', req];
    const r = await o.exec(py, args, { env });
    if (r.code !== 0) throw failed('pip install', r);
  }
  if (p.uninstall.length > 0) {
    const r = await o.exec(py, [...pip.slice(1), 'uninstall', '-y', ...p.uninstall], { env });
    if (r.code !== 0) throw failed('pip uninstall', r);
  }
}

async function mustRun(exec: Exec, cmd: string, args: string[]): Promise<void> {
  const r = await exec(cmd, args, { env: NO_ENV });
  if (r.code !== 0) throw failed(`${cmd} ${args[0]}`, r);
}

function failed(what: string, r: { code: number; stdout: string; stderr: string }): LocalError {
  return new LocalError({
    code: 'TOOL_FAILED',
    message: `rollback: ${what} failed (exit ${r.code}):\n${(r.stderr || r.stdout).trim().split('\n').slice(-15).join('\n')}`,
    subject: 'rollback',
    hint: 'read the message above; run the same rollback again once it is fixed (it does only what is still left to do)',
  });
}
