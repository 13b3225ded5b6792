/**
 * Wheel file names (PEP 427, https://packaging.python.org/en/latest/specifications/binary-distribution-format/)
 * and compatibility tags (PEP 425, PEP 600 manylinux, PEP 656 musllinux), with the target's supported tags
 * listed in the order pypa/packaging's `tags.sys_tags()` yields them, most preferred first, so a wheel
 * chosen here is the one pip would pick on that box.
 */
import { InvalidVersion, normalizeName, parseVersion, formatVersion } from './pep440.js';

export class InvalidWheelFilename extends Error {
  override name = 'InvalidWheelFilename';
}

export interface WheelName {
  filename: string;
  /** The distribution part as written (escaped: `-` never appears in it) and PEP 503-normalised. */
  distribution: string;
  name: string;
  /** Normalised PEP 440 version. */
  version: string;
  /** The optional build tag: leading digits, then the rest (compared as a tuple, number first). */
  build?: { number: number; suffix: string };
  pythonTags: string[];
  abiTags: string[];
  platformTags: string[];
  /** Every interpreter-abi-platform triple the compressed tag set expands to. */
  tags: string[];
}

export function parseWheelFilename(filename: string): WheelName {
  const bad = (why: string) => new InvalidWheelFilename(`Invalid wheel filename ${JSON.stringify(filename)}: ${why}`);
  if (!filename.endsWith('.whl')) throw bad('no .whl extension');
  const parts = filename.slice(0, -4).split('-');
  // name-version(-build)?-python-abi-platform: five or six dash-separated fields.
  if (parts.length !== 5 && parts.length !== 6) throw bad('expected 5 or 6 dash-separated fields');
  const [distribution, rawVersion] = parts as [string, string];
  // packaging's check: word characters, dots and underscores only, and no "__".
  if (!/^[\p{L}\p{N}_.]*$/u.test(distribution) || distribution.includes('__')) throw bad('invalid project name');
  let version: string;
  try {
    version = formatVersion(parseVersion(rawVersion));
  } catch (e) {
    if (e instanceof InvalidVersion) throw bad(`invalid version ${JSON.stringify(rawVersion)}`);
    throw e;
  }
  const [py, abi, plat] = parts.slice(-3).map((t) => t.toLowerCase().split('.')) as [string[], string[], string[]];
  if ([...py, ...abi, ...plat].some((t) => t === '')) throw bad('empty tag');
  const w: WheelName = { filename, distribution, name: normalizeName(distribution), version, pythonTags: py, abiTags: abi, platformTags: plat, tags: [] };
  if (parts.length === 6) {
    const m = /^([0-9]+)(.*)$/.exec(parts[2]!);
    if (!m) throw bad('build tag must start with a digit');
    w.build = { number: Number(m[1]), suffix: m[2]! };
  }
  for (const i of py) for (const a of abi) for (const p of plat) w.tags.push(`${i}-${a}-${p}`);
  return w;
}

export interface TagTarget {
  /** '3.12' (a patch level is ignored). */
  python: string;
  /** Interpreter short name (PEP 425): 'cp' for CPython. Others get packaging's generic_tags and need `abi`. */
  implementation?: string;
  /** ABI tag(s) of the interpreter, most specific first; CPython defaults to cpXY (cpXYm before 3.8). */
  abi?: string | string[];
  /** glibc version of the target ('2.39'), for manylinux tags. */
  glibc?: string;
  /** musl version of the target ('1.2'), for musllinux tags. */
  musl?: string;
  /** uname machine: x86_64, aarch64, i686, ppc64le, s390x, armv7l, riscv64, loongarch64, ... */
  arch: string;
  /**
   * Whether the native linux_<arch> tag comes before the manylinux/musllinux ones: true (the default) as in
   * packaging >= 26.3 (pypa/packaging#160) and in the Ubuntu 24.04 box's python-tags.json; false for older
   * packaging, e.g. the 21.3 vendored in the box's own pip 24.0, which lists it after them.
   */
  nativeLinuxFirst?: boolean;
}

function pyVersion(python: string): [number, number] {
  const m = /^([0-9]+)\.([0-9]+)(?:\.[0-9]+)?$/.exec(python.trim());
  if (!m) throw new Error(`python must be X.Y, not ${JSON.stringify(python)}`);
  return [Number(m[1]), Number(m[2])];
}

// Architectures packaging (_manylinux._ALLOWED_ARCHS, plus i686 and hard-float armv7l) will list manylinux tags for.
const MANYLINUX_ARCHS = new Set(['x86_64', 'aarch64', 'ppc64', 'ppc64le', 's390x', 'loongarch64', 'riscv64', 'i686', 'armv7l']);
// PEP 513 / 571 / 599 legacy names of manylinux_2_5, _2_12 and _2_17.
const LEGACY_MANYLINUX: Record<string, string> = { '2.17': 'manylinux2014', '2.12': 'manylinux2010', '2.5': 'manylinux1' };

function majorMinor(v: string, what: string): [number, number] {
  const m = /^([0-9]+)\.([0-9]+)/.exec(v);
  if (!m) throw new Error(`${what} must be X.Y, not ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}

/** packaging _manylinux.platform_tags: every glibc from the target's down to the oldest manylinux baseline. */
function manylinuxPlatforms(glibc: string, arch: string): string[] {
  if (!MANYLINUX_ARCHS.has(arch)) return [];
  const [major, minor] = majorMinor(glibc, 'glibc');
  // manylinux starts at glibc 2.17 (manylinux2014), except on x86 where manylinux1 is glibc 2.5.
  const tooOld: [number, number] = arch === 'x86_64' || arch === 'i686' ? [2, 4] : [2, 16];
  const out: string[] = [];
  // Compatibility is assumed across glibc majors; packaging assumes 50 minors for a past major.
  for (let maj = major; maj >= 2; maj--) {
    const top = maj === major ? minor : 50;
    const bottom = maj === tooOld[0] ? tooOld[1] : -1;
    for (let min = top; min > bottom; min--) {
      out.push(`manylinux_${maj}_${min}_${arch}`);
      const legacy = LEGACY_MANYLINUX[`${maj}.${min}`];
      if (legacy) out.push(`${legacy}_${arch}`);
    }
  }
  return out;
}

/** packaging _musllinux.platform_tags: the musl minor versions from the target's down to 0. */
function musllinuxPlatforms(musl: string, arch: string): string[] {
  const [major, minor] = majorMinor(musl, 'musl');
  const out: string[] = [];
  for (let min = minor; min >= 0; min--) out.push(`musllinux_${major}_${min}_${arch}`);
  return out;
}

/** Platform tags of a Linux target, most preferred first (packaging tags._linux_platforms). */
export function linuxPlatforms(t: Pick<TagTarget, 'glibc' | 'musl' | 'arch' | 'nativeLinuxFirst'>): string[] {
  const native = `linux_${t.arch}`;
  const portable = [...(t.glibc ? manylinuxPlatforms(t.glibc, t.arch) : []), ...(t.musl ? musllinuxPlatforms(t.musl, t.arch) : [])];
  return (t.nativeLinuxFirst ?? true) ? [native, ...portable] : [...portable, native];
}

/**
 * The tags a Linux target supports, most preferred first, as `packaging.tags.sys_tags()` lists them there:
 * cpython_tags (the interpreter's ABIs, then abi3, then none, then older cp3x-abi3) over every platform,
 * then compatible_tags (py3x-none-<platform> from the newest version down, cpXY-none-any, py*-none-any).
 */
export function targetTags(t: TagTarget): string[] {
  const [major, minor] = pyVersion(t.python);
  const nodot = `${major}${minor}`;
  const impl = t.implementation ?? 'cp';
  const platforms = linuxPlatforms(t);
  const tags: string[] = [];
  const each = (interp: string, abi: string) => {
    for (const p of platforms) tags.push(`${interp}-${abi}-${p}`);
  };
  let interpAny: string | undefined;
  if (impl === 'cp') {
    const interp = `cp${nodot}`;
    const abis = t.abi === undefined ? [`cp${nodot}${major === 3 && minor < 8 ? 'm' : ''}`] : [t.abi].flat();
    // Free-threaded builds (cp313t) have their own stable ABI, abi3t (packaging 26.1), instead of abi3.
    const threaded = /^cp[0-9]+t/.test(abis[0] ?? '');
    const stable = major === 3 && minor >= 2 ? (threaded ? 'abi3t' : 'abi3') : undefined;
    for (const abi of abis.filter((a) => a !== 'abi3' && a !== 'abi3t' && a !== 'none')) each(interp, abi);
    if (stable) each(interp, stable);
    each(interp, 'none');
    // A stable-ABI wheel built for an older CPython 3 still loads, back to 3.2 (PEP 384).
    if (stable) for (let m = minor - 1; m >= 2; m--) each(`cp${major}${m}`, stable);
    interpAny = interp;
  } else {
    // packaging generic_tags: the given ABIs, then none. PyPy's compatible_tags use the pp3 interpreter.
    if (t.abi === undefined) throw new Error(`targetTags: abi is required for implementation ${impl}`);
    const abis = [t.abi].flat().filter((a) => a !== 'none');
    for (const abi of [...abis, 'none']) each(`${impl}${nodot}`, abi);
    if (impl === 'pp') interpAny = 'pp3';
  }
  // compatible_tags: py3X for this minor, then the bare major, then every older minor.
  const pys = [`py${nodot}`, `py${major}`];
  for (let m = minor - 1; m >= 0; m--) pys.push(`py${major}${m}`);
  for (const py of pys) each(py, 'none');
  if (interpAny) tags.push(`${interpAny}-none-any`);
  for (const py of pys) tags.push(`${py}-none-any`);
  return tags;
}

const priorities = new WeakMap<readonly string[], Map<string, number>>();

function priorityOf(tags: readonly string[]): Map<string, number> {
  let m = priorities.get(tags);
  if (!m) {
    m = new Map();
    tags.forEach((tag, i) => {
      if (!m!.has(tag)) m!.set(tag, i);
    });
    priorities.set(tags, m);
  }
  return m;
}

/** The index in `tags` of the wheel's most preferred supported tag, or undefined when it supports none. */
export function wheelPriority(wheel: WheelName, tags: readonly string[]): number | undefined {
  const prio = priorityOf(tags);
  let best: number | undefined;
  for (const tag of wheel.tags) {
    const p = prio.get(tag);
    if (p !== undefined && (best === undefined || p < best)) best = p;
  }
  return best;
}

/**
 * Of the given wheel file names (one release's files), the one pip would install on a target with these
 * supported tags: the lowest priority index wins, then the higher build tag (PEP 427: "a tie-breaker if
 * two wheel file names are the same in all other respects"), then the earlier name. Undefined when none
 * is compatible; names that are not valid wheel names are ignored.
 */
export function bestWheel(filenames: readonly string[], tags: readonly string[]): string | undefined {
  let best: { name: string; prio: number; build: [number, string] } | undefined;
  for (const name of filenames) {
    let w: WheelName;
    try {
      w = parseWheelFilename(name);
    } catch (e) {
      if (e instanceof InvalidWheelFilename) continue;
      throw e;
    }
    const prio = wheelPriority(w, tags);
    if (prio === undefined) continue;
    const build: [number, string] = w.build ? [w.build.number, w.build.suffix] : [-1, ''];
    if (!best || prio < best.prio || (prio === best.prio && (build[0] > best.build[0] || (build[0] === best.build[0] && build[1] > best.build[1])))) {
      best = { name, prio, build };
    }
  }
  return best?.name;
}
