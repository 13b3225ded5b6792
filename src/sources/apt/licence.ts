import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { hexOf } from '../../store/digest.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { BuildCtx, Locked } from '../source.js';
import { dep5ToSpdx, parseDep5 } from './copyright.js';
import { type DebDoc, readDebDoc } from './deb-doc.js';
import type { AptLicenceMode } from './schema.js';

/**
 * The licence facts of apt packages, read at build from the fetched .debs (the bytes the lock pins by sha256;
 * Debian's Packages indexes carry no licence). They become meta keys of the artifact in bundle.json:
 * - `licenseFrom`: `dep5` (a machine-readable copyright file), `copyright-file` (one that is not: the licence
 *   is in that file, whose sha256 is given, and is not guessed), `missing`, `link` (the doc folder is a link
 *   to a package that is not in the bundle) or `unreadable`;
 * - `license`: the `Files: *` licence as an SPDX expression where every DEP-5 short name maps, else as Debian
 *   wrote it; `licenseAsWritten`: as Debian wrote it; `licensesAll`: every licence of the file, joined by "; ";
 * - `licenseFile` and `licenseFileSha256`: the copyright file the facts come from; `licenseNote`: why not more.
 */
export type LicenceFacts = Record<string, string>;

function factsOf(doc: DebDoc): LicenceFacts {
  if (doc.kind === 'missing') return { licenseFrom: 'missing', licenseFile: doc.path, licenseNote: `the .deb has no ${doc.path}` };
  if (doc.kind === 'unreadable') return { licenseFrom: 'unreadable', licenseFile: doc.path, licenseNote: doc.reason };
  if (doc.kind === 'link') return { licenseFrom: 'link', licenseFile: doc.path, licenseNote: linkNote(doc) };
  const file = { licenseFile: doc.path, licenseFileSha256: doc.sha256 };
  const dep5 = parseDep5(doc.text);
  if (!dep5) {
    return { licenseFrom: 'copyright-file', ...file, licenseNote: `not machine-readable (DEP-5): the licence is in ${doc.path} (sha256 ${doc.sha256})` };
  }
  const all = dep5.all.map((s) => dep5ToSpdx(s) ?? s).join('; ');
  if (!dep5.main) return { licenseFrom: 'dep5', ...file, ...(all ? { licensesAll: all } : {}), licenseNote: 'no Files: * paragraph names a licence' };
  return { licenseFrom: 'dep5', ...file, license: dep5ToSpdx(dep5.main) ?? dep5.main, licenseAsWritten: dep5.main, ...(all ? { licensesAll: all } : {}) };
}

function linkNote(doc: Extract<DebDoc, { kind: 'link' }>): string {
  return `${doc.path.replace(/\/copyright$/, '')} is a link to ${doc.target} (Debian Policy §12.5): that package's copyright file applies`;
}

/** The package a doc folder link points at ("python3", "../python3", "/usr/share/doc/python3"). */
function linkTarget(target: string): string {
  return target.replace(/\/+$/, '').split('/').at(-1) ?? target;
}

/** What one .deb says, before links to other packages are followed. */
interface Read {
  facts: LicenceFacts;
  /** The doc folder is a link to this. */
  link?: string;
}

/**
 * The facts of one .deb, from the cache beside the store's blobs when this version of the reader has read
 * these bytes before: a rebuild decompresses no .deb again (a CUDA set is gigabytes of data.tar.xz).
 */
async function cached(a: Locked, ctx: BuildCtx): Promise<Read> {
  const dir = join(ctx.store.root, 'facts', 'apt-copyright-1');
  const file = join(dir, `${hexOf(a.digest)}-${Buffer.from(a.name).toString('hex')}.json`);
  const hit = await readFile(file, 'utf8')
    .then((t) => JSON.parse(t) as Read)
    .catch(() => undefined); // missing, or left short or empty by a crash: read the .deb again
  if (hit?.facts && typeof hit.facts === 'object') return hit;
  const doc = await readDebDoc(ctx.store.path(a.digest), a.name);
  const r: Read = { facts: factsOf(doc), ...(doc.kind === 'link' ? { link: doc.target } : {}) };
  // An unreadable .deb may be a passing read error: read it again next time. No fsync: a file a crash left short or
  // empty does not parse, and is read again (a build's ~300 small fsyncs waited on the journal behind its gigabytes).
  if (doc.kind !== 'unreadable') {
    await mkdir(dir, { recursive: true })
      .then(() => writeFileAtomic(file, JSON.stringify(r), 0o644, { durable: false }))
      .catch(() => undefined);
  }
  return r;
}

/** The source package and version a binary was built from: the index's `Source: name (version)`, else its own. */
function sourceOf(a: Locked): { name: string; version: string } {
  const m = /^(\S+)(?:\s+\((\S+)\))?$/.exec(a.meta?.Source?.trim() ?? '');
  return { name: m?.[1] ?? a.name, version: m?.[2] ?? a.version };
}

/**
 * The .debs read together: every one alone (`every-package`), or all binaries of one source package at one
 * version, smallest first (the one read; its siblings only when it has no copyright file of its own).
 */
function groupsOf(items: readonly Locked[], mode: AptLicenceMode): Locked[][] {
  if (mode === 'every-package') return items.map((a) => [a]);
  const by = new Map<string, Locked[]>();
  for (const a of items) {
    const s = sourceOf(a);
    const key = `${s.name}\0${s.version}`;
    const g = by.get(key);
    if (g) g.push(a);
    else by.set(key, [a]);
  }
  return [...by.values()].map((g) => g.sort((a, b) => a.size - b.size || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
}

const hasFile = (f: LicenceFacts) => f.licenseFrom === 'dep5' || f.licenseFrom === 'copyright-file';

/**
 * A sibling's facts: those of the binary of the same source that was read, saying so. dh_installdocs installs
 * the source's debian/copyright into every binary package (unless debian/<pkg>.copyright exists), so this is
 * Debian's practice, stated as such, not a reading of this .deb (`apt: {licences: every-package}` reads each).
 */
function siblingFacts(facts: LicenceFacts, from: Locked): LicenceFacts {
  const s = sourceOf(from);
  const sha = facts.licenseFileSha256 ? ` (sha256 ${facts.licenseFileSha256})` : '';
  const note = `copyright of ${from.name} ${from.version}${sha}, same source ${s.name} ${s.version}: this .deb was not read (one read per source package)`;
  return { ...facts, licenseReadFrom: from.id, licenseNote: facts.licenseNote ? `${note}; ${facts.licenseNote}` : note };
}

/** How a build reads apt licences: the manifest's `apt.licences`, and when each .deb is in the store. */
export interface AptFactsOptions {
  spec?: { licences?: AptLicenceMode | undefined };
  /** Resolves true once the artifact's blob is in the store (a build reads while downloading), false: it will not come. */
  stored?: (a: Locked) => Promise<boolean>;
  /** Resolves when the downloads are over: the reads still to do then use every core. */
  fetchOver?: Promise<void>;
}

/**
 * Facts of every apt artifact whose .deb is in the store (a delta's base holds the others). A doc folder that
 * links to another package of the bundle takes that package's facts (with a note saying so).
 */
export async function aptLicences(items: readonly Locked[], ctx: BuildCtx, o: AptFactsOptions = {}): Promise<Map<string, LicenceFacts>> {
  // One read per core: each runs the host's decompressor (deb-doc.ts) and node-tar's parse of its output. While
  // the downloads run (o.stored), one at a time: they hash on the other core, and each read's pipe buffers add
  // to the fetch's own. Once they are over, every core again: the reads of the small .debs that came last went
  // on one at a time for ~5 s after a cold nvidia-debian12 fetch ended (issue #14), one core idle.
  const cores = Math.max(1, Math.min(ctx.limits.concurrency, availableParallelism()));
  const limit = pLimit(o.stored ? 1 : cores);
  void o.fetchOver?.then(() => (limit.concurrency = cores));
  const here = async (a: Locked) => (o.stored ? await o.stored(a) : true) && !ctx.signal.aborted && (await ctx.store.has(a.digest, a.size));
  const read = new Map<string, Read>();
  const derived = new Map<string, LicenceFacts>();
  const readGroup = async (group: Locked[]) => {
    for (const [i, a] of group.entries()) {
      if (!(await here(a))) continue;
      const r = await limit(() => cached(a, ctx));
      read.set(a.id, r);
      if (!hasFile(r.facts)) continue;
      for (const b of group.slice(i + 1)) if (await here(b)) derived.set(b.id, siblingFacts(r.facts, a));
      return;
    }
  };
  await Promise.all(groupsOf(items, o.spec?.licences ?? 'per-source').map(readGroup));
  const out = new Map<string, LicenceFacts>(derived);
  for (const [id, r] of read) out.set(id, r.facts);
  for (const a of items) {
    const r = read.get(a.id);
    if (r?.link === undefined) continue;
    const doc = { kind: 'link', path: r.facts.licenseFile!, target: r.link } as const;
    const name = linkTarget(doc.target);
    const arch = a.id.split(':').at(-1);
    const to = items.find((b) => b.name === name && b.id.endsWith(`:${arch}`)) ?? items.find((b) => b.name === name);
    const facts = to && out.get(to.id);
    if (facts && facts.licenseFrom !== 'link')
      out.set(a.id, { ...facts, licenseNote: facts.licenseReadFrom ? `${linkNote(doc)}; ${facts.licenseNote}` : linkNote(doc) });
    else out.set(a.id, { ...out.get(a.id)!, licenseNote: `${linkNote(doc)}, and ${name} is not in this bundle` });
  }
  return out;
}
