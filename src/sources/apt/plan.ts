import type { Exec } from '../source.js';

/** One package apt's simulation says it will change: the version before (null: not installed) and after (null: removed). */
export interface AptChange {
  package: string;
  arch: string;
  before: string | null;
  after: string | null;
}

/**
 * What `apt-get -s` will do, from its own lines: `Inst pkg [old] (new origin [arch])` installs or upgrades
 * (or downgrades), `Remv pkg [old]` removes. A name apt prints with `:arch` keeps that architecture; otherwise
 * the bracketed one of the Inst line, else the box's native one.
 */
export function aptChanges(simulation: string, nativeArch = ''): AptChange[] {
  const out = new Map<string, AptChange>();
  for (const m of simulation.matchAll(/^(Inst|Remv) (\S+)(?: \[([^\]]+)\])?(?: \((\S+)[^)]*?(?:\[([^\]]+)\])?\))?/gm)) {
    const [, verb, name, old, ver, bracketArch] = m;
    const [pkg, archOfName] = name!.split(':') as [string, string | undefined];
    const arch = archOfName ?? bracketArch ?? nativeArch;
    out.set(`${pkg}:${arch}`, { package: pkg, arch, before: old ?? null, after: verb === 'Inst' ? (ver ?? null) : null });
  }
  return [...out.values()];
}

/** The packages apt-mark calls automatically installed (both `pkg` and `pkg:arch` forms). */
export async function autoInstalled(exec: Exec): Promise<Set<string>> {
  const r = await exec('apt-mark', ['showauto']).catch(() => ({ code: 1, stdout: '' }));
  return new Set(
    r.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** The box's installed packages (`ii`): `name:arch` → version. */
export async function dpkgInstalled(exec: Exec): Promise<Map<string, string>> {
  const q = await exec('dpkg-query', ['-W', '-f', '${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\n']).catch(() => ({ code: 1, stdout: '' }));
  const have = new Map<string, string>();
  for (const line of q.stdout.split('\n')) {
    const [p, a, v, st] = line.split('\t');
    if (p && v && st?.startsWith('ii')) have.set(`${p}:${a}`, v);
  }
  return have;
}

/**
 * Packages dpkg holds in a state other than installed-ok (`iHR` half-installed after a killed upgrade, `iU`
 * unpacked, `iF` half-configured): `name:arch` → their version and status letters. apt sees them as installed
 * at that version; a rollback reinstalls them.
 */
export async function dpkgBroken(exec: Exec): Promise<Map<string, { version: string; status: string }>> {
  const q = await exec('dpkg-query', ['-W', '-f', '${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\n']).catch(() => ({ code: 1, stdout: '' }));
  const out = new Map<string, { version: string; status: string }>();
  for (const line of q.stdout.split('\n')) {
    const [p, a, v, st] = line.split('\t');
    if (p && v && st && !st.startsWith('ii') && /^[ih]/.test(st)) out.set(`${p}:${a}`, { version: v, status: st.trim() });
  }
  return out;
}

/** The version a package has on the box (its own architecture, else `all`), null when not installed. */
export function versionOn(have: ReadonlyMap<string, string>, pkg: string, arch: string): string | null {
  return have.get(`${pkg}:${arch}`) ?? have.get(`${pkg}:all`) ?? null;
}
