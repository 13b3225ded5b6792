import type { BundleIndex } from '../bundle/index.js';
import { compareVersions as debCompare } from '../sources/apt/version.js';
import { compareVersions as pep440Compare } from '../sources/pip/pep440.js';
import type { Digest } from '../store/digest.js';
import { semverCompare } from '../audit/order.js';
import { type InstallTarget, installText } from '../sbom/install.js';
import { type Component, componentsOf } from './components.js';

/**
 * What changed between two bundles, component by component. Components are matched by identity (the purl
 * without version, keeping the qualifiers that name another package, such as a .deb's arch); versions are
 * ordered the way each ecosystem orders them (apt: dpkg, pip: PEP 440), models have commits (no order: a new
 * commit is "changed") and files have their sha256. The same version with other bytes is changed, and a
 * warning too: upstream re-published something under an existing version, or a mirror serves something else.
 * A file whose bytes stayed but whose destination or mode on the box changed is changed as well.
 */
export interface DiffSide {
  bundle: string;
  name: string;
  version: string;
  created: string;
  target: BundleIndex['target'];
  artifacts: number;
  components: number;
  bytes: number;
  /** sha256 of its bundle.json. */
  index: string;
}

export interface DiffEntry {
  kind: Component['kind'];
  name: string;
  identity: string;
  from?: string;
  to?: string;
  fromDigest?: Digest;
  toDigest?: Digest;
  fromSize?: number;
  toSize?: number;
  /** New size minus old size (bytes). */
  sizeDelta: number;
  /** Models: which files changed under the same commit; files: how their install changed. */
  note?: string;
  /** The same version with other bytes (also in warnings). */
  sameVersion?: boolean;
  /** A file whose destination or mode on the box changed (from/to absent: it had none). */
  install?: { from?: InstallTarget; to?: InstallTarget };
}

/** A file of the new bundle that installs setuid, setgid or world-writable where the old one did not. */
export interface ModeAttention {
  name: string;
  identity: string;
  install: InstallTarget;
  /** Its install in the old bundle, when it was there. */
  was?: InstallTarget;
}

export interface HashWarning {
  kind: Component['kind'];
  name: string;
  identity: string;
  version: string;
  from: Digest;
  to: Digest;
  /** Models: the files whose bytes differ. */
  files?: string[];
}

export interface BundleDiff {
  old: DiffSide;
  new: DiffSide;
  added: DiffEntry[];
  removed: DiffEntry[];
  upgraded: DiffEntry[];
  downgraded: DiffEntry[];
  /**
   * Models with another commit, files with other bytes, anything with the same version and other bytes, files
   * with another destination or mode: no version order to call it up or down.
   */
  changed: DiffEntry[];
  warnings: HashWarning[];
  /** Setuid, setgid or world-writable modes this bundle brings that the old one did not have. */
  attention: ModeAttention[];
  unchanged: number;
  /** Total artifact bytes, new minus old. */
  sizeDelta: number;
}

export interface SideInput {
  location: string;
  index: BundleIndex;
  indexSha256: string;
}

function side(s: SideInput, comps: readonly Component[]): DiffSide {
  return {
    bundle: s.location,
    name: s.index.name,
    version: s.index.version,
    created: s.index.created,
    target: s.index.target,
    artifacts: s.index.artifacts.length,
    components: comps.length,
    bytes: s.index.artifacts.reduce((n, a) => n + a.size, 0),
    index: s.indexSha256,
  };
}

/** How `to` relates to `from`: 1 newer, -1 older, 0 equal, undefined: no order (models, files). */
export function versionOrder(kind: Component['kind'], from: string, to: string): number | undefined {
  if (from === to) return 0;
  const [a, b] = [to, from];
  switch (kind) {
    case 'apt':
      return Math.sign(debCompare(a, b));
    case 'pip':
      try {
        return Math.sign(pep440Compare(a, b));
      } catch {
        return undefined;
      }
    case 'runtime': {
      const pa = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(a);
      const pb = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(b);
      if (!pa || !pb) return undefined;
      for (let i = 1; i <= 3; i++) if (Number(pa[i]) !== Number(pb[i])) return Math.sign(Number(pa[i]) - Number(pb[i]));
      return 0;
    }
    case 'npm':
      return Math.sign(semverCompare(a, b));
    case 'hf':
    case 'file':
      return undefined;
  }
}

function groupBy(comps: readonly Component[]): Map<string, Component[]> {
  const m = new Map<string, Component[]>();
  for (const c of comps) m.set(c.identity, [...(m.get(c.identity) ?? []), c]);
  return m;
}

export function diffBundles(oldB: SideInput, newB: SideInput): BundleDiff {
  const oc = componentsOf(oldB.index);
  const nc = componentsOf(newB.index);
  const d: BundleDiff = {
    old: side(oldB, oc),
    new: side(newB, nc),
    added: [],
    removed: [],
    upgraded: [],
    downgraded: [],
    changed: [],
    warnings: [],
    attention: [],
    unchanged: 0,
    sizeDelta: 0,
  };
  d.sizeDelta = d.new.bytes - d.old.bytes;
  const olds = groupBy(oc);
  const news = groupBy(nc);
  for (const id of new Set([...olds.keys(), ...news.keys()])) {
    let o = [...(olds.get(id) ?? [])];
    let n = [...(news.get(id) ?? [])];
    // Several versions of one identity (rare): pair equal versions first, then what is left one to one.
    for (const x of [...o]) {
      const y = n.find((c) => c.version === x.version);
      if (!y) continue;
      compare(d, x, y);
      o = o.filter((c) => c !== x);
      n = n.filter((c) => c !== y);
    }
    if (o.length === 1 && n.length === 1) {
      compare(d, o[0]!, n[0]!);
      continue;
    }
    for (const x of o) d.removed.push(entry(x, undefined));
    for (const y of n) {
      d.added.push(entry(undefined, y));
      attend(d, undefined, y);
    }
  }
  for (const list of [d.added, d.removed, d.upgraded, d.downgraded, d.changed]) list.sort(byKindName);
  d.warnings.sort(byKindName);
  d.attention.sort(byName);
  return d;
}

function sameInstall(a: InstallTarget | undefined, b: InstallTarget | undefined): boolean {
  return a?.dest === b?.dest && a?.mode === b?.mode;
}

function installNote(a: InstallTarget | undefined, b: InstallTarget | undefined): string {
  return `install: ${a ? installText(a) : 'none'} → ${b ? installText(b) : 'none'}`;
}

/** Notes a file of the new bundle whose setuid, setgid or world-writable bits the old one did not have. */
function attend(d: BundleDiff, o: Component | undefined, n: Component): void {
  const to = n.install;
  if (!to?.flags.length || to.flags.every((f) => o?.install?.flags.includes(f))) return;
  d.attention.push({ name: n.name, identity: n.identity, install: to, ...(o?.install ? { was: o.install } : {}) });
}

function compare(d: BundleDiff, o: Component, n: Component): void {
  attend(d, o, n);
  const order = versionOrder(n.kind, o.version, n.version);
  const e = entry(o, n);
  // An npm package inside the packed script has no bytes of its own (its digest is the script's).
  const bytesDiffer = n.kind !== 'npm' && o.digest !== n.digest;
  const notes: string[] = [];
  if (o.files && n.files && bytesDiffer) notes.push(filesNote(o.files, n.files));
  if (!sameInstall(o.install, n.install)) {
    e.install = { ...(o.install ? { from: o.install } : {}), ...(n.install ? { to: n.install } : {}) };
    notes.push(installNote(o.install, n.install));
  }
  if (order === 0) {
    if (bytesDiffer) {
      const w: HashWarning = { kind: n.kind, name: n.name, identity: n.identity, version: n.version, from: o.digest, to: n.digest };
      const differ = o.files && n.files ? Object.keys(n.files).filter((p) => o.files![p] !== undefined && o.files![p] !== n.files![p]) : undefined;
      // A model of the same commit with only other files selected (include patterns changed) is no content alarm.
      if (differ?.length !== 0) {
        if (differ) w.files = differ.sort();
        d.warnings.push(w);
        e.sameVersion = true;
        notes.unshift('same version, different sha256');
      }
    } else if (!e.install) {
      d.unchanged++;
      return;
    }
    d.changed.push(notes.length ? { ...e, note: notes.join('; ') } : e);
    return;
  }
  if (notes.length) e.note = notes.join('; ');
  if (order === undefined) d.changed.push(e);
  else (order > 0 ? d.upgraded : d.downgraded).push(e);
}

function filesNote(o: Record<string, Digest>, n: Record<string, Digest>): string {
  const added = Object.keys(n).filter((p) => !(p in o)).length;
  const removed = Object.keys(o).filter((p) => !(p in n)).length;
  const changed = Object.keys(n).filter((p) => p in o && o[p] !== n[p]).length;
  return `files: ${changed} changed, ${added} added, ${removed} removed`;
}

function entry(o: Component | undefined, n: Component | undefined): DiffEntry {
  const c = (n ?? o)!;
  return {
    kind: c.kind,
    name: c.name,
    identity: c.identity,
    ...(o ? { from: o.version, fromDigest: o.digest, fromSize: o.size } : {}),
    ...(n ? { to: n.version, toDigest: n.digest, toSize: n.size } : {}),
    sizeDelta: (n?.size ?? 0) - (o?.size ?? 0),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function byKindName(a: { kind: string; name: string }, b: { kind: string; name: string }): number {
  const x = `${a.kind}\0${a.name}`;
  const y = `${b.kind}\0${b.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
}
