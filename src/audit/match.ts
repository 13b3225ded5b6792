import { PackageURL } from 'packageurl-js';
import type { Target } from '../box/target.js';
import { normalizeName } from '../sources/pip/pep440.js';
import type { RuntimeFile } from '../runtime/carry.js';
import type { Locked } from '../sources/source.js';
import type { OsvAffected, OsvEvent } from './osv.js';
import { type VersionOrder, dpkgOrder, pep440Order, semverOrder } from './order.js';

/** What the audit reports a finding against: a bundle.json artifact, or an npm package inside the runtime. */
export interface Audited {
  id: string;
  name: string;
  version: string;
  kind: string;
}

/** What one bundled artifact is, in OSV's terms: which ecosystem, which package name, which version. */
export interface Query {
  artifact: Audited;
  /** The OSV ecosystem, e.g. "Debian:12", "Ubuntu:24.04:LTS", "PyPI". */
  ecosystem: string;
  /** The ecosystem without its release ("Debian", "Ubuntu", "PyPI"). */
  base: string;
  /** The package name OSV records use (Debian/Ubuntu: the source package), normalised for lookup. */
  name: string;
  /** The version compared (Debian/Ubuntu: the source version). */
  version: string;
  order: VersionOrder;
}

/** An artifact the audit cannot look up, and why. */
export interface Unchecked {
  artifact: string;
  why: string;
}

// Debian releases by codename (https://www.debian.org/releases/), as OSV names them: "Debian:<major>".
const DEBIAN: Record<string, string> = {
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};
// Ubuntu releases by codename (https://wiki.ubuntu.com/Releases), as OSV names them: "Ubuntu:<ver>[:LTS]".
const UBUNTU: Record<string, string> = {
  trusty: '14.04:LTS',
  xenial: '16.04:LTS',
  bionic: '18.04:LTS',
  focal: '20.04:LTS',
  jammy: '22.04:LTS',
  lunar: '23.04',
  mantic: '23.10',
  noble: '24.04:LTS',
  oracular: '24.10',
  plucky: '25.04',
  questing: '25.10',
  resolute: '26.04:LTS',
};

/** An Ubuntu version string as its OSV ecosystem suffix: LTS releases are the April ones of even years. */
function ubuntuRelease(version: string): string {
  const m = /^(\d{2})\.(\d{2})$/.exec(version);
  return m && m[2] === '04' && Number(m[1]) % 2 === 0 ? `${version}:LTS` : version;
}

/**
 * The OSV ecosystem of an apt artifact: from its purl (vendor = the repository's Origin, distro = its
 * Codename, both from the signed Release it was locked from), else from the bundle's target OS.
 * `bookworm-security` and `noble-updates` are the release itself.
 */
export function debEcosystem(a: Locked, target: Pick<Target, 'os'>): { ecosystem: string } | { why: string } {
  let origin: string | undefined;
  let distro = '';
  try {
    const p = PackageURL.fromString(a.purl);
    origin = p.namespace?.toLowerCase();
    distro = p.qualifiers?.distro?.toLowerCase() ?? '';
  } catch {
    // A purl we cannot read: the target decides.
  }
  // Origins "Debian", "Debian Backports"; "Ubuntu", "UbuntuESM…". Suites "bookworm-security", "noble-updates",
  // "noble-apps-security" are their release; some writers put "debian-12" or "24.04" instead of a codename.
  const vendor = origin?.startsWith('debian') ? 'debian' : origin?.startsWith('ubuntu') ? 'ubuntu' : origin;
  const codename = distro.split(/[-/]/)[0] ?? '';
  if (vendor === 'debian' && distro) {
    const rel = DEBIAN[codename] ?? /^(?:debian-)?(\d+)(?:\.\d+)*$/.exec(distro)?.[1];
    if (rel) return { ecosystem: `Debian:${rel}` };
  }
  if (vendor === 'ubuntu' && distro) {
    const ver = /^(?:ubuntu-)?(\d{2}\.\d{2})$/.exec(distro)?.[1];
    const rel = UBUNTU[codename] ?? (ver ? ubuntuRelease(ver) : undefined);
    if (rel) return { ecosystem: `Ubuntu:${rel}` };
  }
  if (vendor && vendor !== 'debian' && vendor !== 'ubuntu') {
    return { why: `from the "${origin}" apt repository, which has no OSV ecosystem` };
  }
  const os = /^(debian|ubuntu)-(\d+(?:\.\d+)?)$/.exec(target.os.toLowerCase());
  if (os?.[1] === 'debian') return { ecosystem: `Debian:${os[2]}` };
  if (os?.[1] === 'ubuntu' && os[2]) return { ecosystem: `Ubuntu:${ubuntuRelease(os[2])}` };
  return { why: `its Debian or Ubuntu release is unknown (purl ${a.purl}, target ${target.os})` };
}

/**
 * The source package and version of a .deb, which Debian and Ubuntu OSV records name: the `Source` control
 * field ("src" or "src (version)") when the binary has one, else the binary itself; a binNMU's "+bN" suffix
 * is not part of the source version.
 */
export function debSource(a: Locked): { name: string; version: string } {
  const binary = a.version.replace(/\+b\d+$/, '');
  const m = /^\s*([^\s(]+)\s*(?:\(\s*([^)\s]+)\s*\))?\s*$/.exec(a.meta?.Source ?? '');
  if (!m) return { name: a.name, version: binary };
  return { name: m[1]!, version: m[2] ?? binary };
}

/** What the audit looks up for each artifact, and what it cannot. */
export function queriesOf(artifacts: readonly Locked[], target: Pick<Target, 'os'>): { queries: Query[]; unchecked: Unchecked[] } {
  const queries: Query[] = [];
  const unchecked: Unchecked[] = [];
  for (const a of artifacts) {
    if (a.kind === 'apt') {
      const eco = debEcosystem(a, target);
      if ('why' in eco) {
        unchecked.push({ artifact: a.id, why: eco.why });
        continue;
      }
      const src = debSource(a);
      queries.push({ artifact: a, ecosystem: eco.ecosystem, base: eco.ecosystem.split(':')[0]!, name: src.name, version: src.version, order: dpkgOrder });
    } else if (a.kind === 'pip') {
      if (!pep440Order.valid(a.version)) {
        unchecked.push({ artifact: a.id, why: `version ${a.version} is not a PEP 440 version` });
        continue;
      }
      queries.push({ artifact: a, ecosystem: 'PyPI', base: 'PyPI', name: normalizeName(a.name), version: a.version, order: pep440Order });
    } else {
      unchecked.push({
        artifact: a.id,
        why: a.kind === 'hf' ? 'a model file: OSV has no ecosystem for models' : 'a plain file: it names no package of an OSV ecosystem',
      });
    }
  }
  return { queries, unchecked };
}

/**
 * The npm packages packed into the carried runtime's script, as OSV's npm ecosystem names them (versions in
 * semver order); the script's own code and the node binary have no OSV ecosystem.
 */
export function runtimeQueries(runtime: readonly RuntimeFile[] | undefined): { queries: Query[]; unchecked: Unchecked[] } {
  const queries: Query[] = [];
  const unchecked: Unchecked[] = [];
  for (const rf of runtime ?? []) {
    const id = `runtime:${rf.path}`;
    if (rf.packages === undefined) {
      unchecked.push({
        artifact: id,
        why: rf.path.endsWith('.cjs')
          ? 'the packed tool: this bundle.json does not list the npm packages inside it (built before they were recorded)'
          : 'the carried node binary: no OSV ecosystem',
      });
      continue;
    }
    unchecked.push({ artifact: id, why: "vault-bundle's own code: no registry package (its npm packages are checked)" });
    for (const p of rf.packages) {
      const artifact: Audited = { id: `${id}#npm:${p.name}@${p.version}`, name: p.name, version: p.version, kind: 'npm' };
      if (!semverOrder.valid(p.version)) {
        unchecked.push({ artifact: artifact.id, why: `version ${p.version} is not a semantic version` });
        continue;
      }
      queries.push({ artifact, ecosystem: 'npm', base: 'npm', name: p.name, version: p.version, order: semverOrder });
    }
  }
  return { queries, unchecked };
}

/** The lookup key of an affected package: base ecosystem and name as the ecosystem normalises it. */
export function lookupKey(base: string, name: string): string {
  return `${base}\0${base === 'PyPI' ? normalizeName(name) : name}`;
}

/** Whether a record's ecosystem covers a query's: the same string, or the bare base ("Debian" for any release). */
export function ecosystemCovers(recordEcosystem: string, q: Pick<Query, 'ecosystem' | 'base'>): boolean {
  return recordEcosystem === q.ecosystem || recordEcosystem === q.base;
}

export interface AffectedMatch {
  /** How the version was found affected. */
  by: 'range' | 'versions';
  /** The lowest fixed version above the bundled one in the range that matched, when the record names one. */
  fixed?: string;
  /** Range types this entry had that were not evaluated (GIT: commits, not versions). */
  skipped?: string[];
}

/**
 * Whether `version` is affected by one `affected[]` entry: listed in `versions`, or inside an ECOSYSTEM or
 * SEMVER range, evaluated as the OSV schema's "Evaluation" section does (events sorted by version with
 * introduced "0" first; introduced opens, fixed closes at, last_affected closes after; at or past every
 * `limit` is unaffected). A range whose versions cannot be read in the ecosystem's order is not evaluated.
 */
export function affects(entry: OsvAffected, localVersion: string, order: VersionOrder): AffectedMatch | undefined {
  const recordHasLocal = [...(entry.versions ?? []), ...(entry.ranges ?? []).flatMap((r) => r.events.flatMap((e) => Object.values(e)))].some(
    (v) => typeof v === 'string' && v.includes('+'),
  );
  const version = order.publicOf && !recordHasLocal ? order.publicOf(localVersion) : localVersion;
  const skipped: string[] = [];
  let fixed: string | undefined;
  let inRange = false;
  for (const range of entry.ranges ?? []) {
    const type = range.type.toUpperCase();
    if (type === 'GIT') {
      skipped.push('GIT');
      continue;
    }
    const ord = type === 'SEMVER' ? semverOrder : type === 'ECOSYSTEM' ? order : undefined;
    if (!ord) {
      skipped.push(type);
      continue;
    }
    if (!ord.valid(version) && version !== '0') continue;
    const r = evaluate(range.events, version, ord);
    if (r.affected) {
      inRange = true;
      if (r.fixed !== undefined && (fixed === undefined || ord.compare(r.fixed, fixed) < 0)) fixed = r.fixed;
    }
  }
  const extra = skipped.length ? { skipped: [...new Set(skipped)] } : {};
  if (inRange) return { by: 'range', ...(fixed !== undefined ? { fixed } : {}), ...extra };
  if ((entry.versions ?? []).some((v) => order.same(v, version))) return { by: 'versions', ...extra };
  return undefined;
}

function evaluate(events: readonly OsvEvent[], version: string, order: VersionOrder): { affected: boolean; fixed?: string } {
  type Ev = { kind: 'introduced' | 'fixed' | 'last_affected' | 'limit'; v: string };
  const list: Ev[] = [];
  for (const e of events) {
    for (const kind of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
      const v = e[kind];
      if (v !== undefined) list.push({ kind, v });
    }
  }
  // introduced "0" is before every version, a limit of "*" after every one (the schema's infinity);
  // anything else must be a version of the ecosystem.
  const infinite = (e: Ev) => e.kind === 'limit' && e.v.includes('*');
  if (list.some((e) => !(e.kind === 'introduced' && e.v === '0') && !infinite(e) && !order.valid(e.v))) return { affected: false };
  const cmp = (a: string, b: string) => (a === b ? 0 : a === '0' ? -1 : b === '0' ? 1 : order.compare(a, b));
  const limits = list.filter((e) => e.kind === 'limit' && !infinite(e));
  if (limits.length && !limits.some((l) => cmp(version, l.v) < 0)) return { affected: false };
  const sorted = list.filter((e) => e.kind !== 'limit').sort((a, b) => cmp(a.v, b.v));
  let affected = false;
  for (const e of sorted) {
    if (e.kind === 'introduced' && cmp(version, e.v) >= 0) affected = true;
    else if (e.kind === 'fixed' && cmp(version, e.v) >= 0) affected = false;
    else if (e.kind === 'last_affected' && cmp(version, e.v) > 0) affected = false;
  }
  if (!affected) return { affected };
  const fixed = sorted.find((e) => e.kind === 'fixed' && cmp(e.v, version) > 0)?.v;
  return fixed !== undefined ? { affected, fixed } : { affected };
}
