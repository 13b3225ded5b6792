import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { hexOf } from '../../store/digest.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { BuildCtx, Locked } from '../source.js';
import { dep5ToSpdx, parseDep5 } from './copyright.js';
import { type DebDoc, readDebDoc } from './deb-doc.js';

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
  const hit = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as Read,
    () => undefined,
  );
  if (hit?.facts && typeof hit.facts === 'object') return hit;
  const doc = await readDebDoc(ctx.store.path(a.digest), a.name);
  const r: Read = { facts: factsOf(doc), ...(doc.kind === 'link' ? { link: doc.target } : {}) };
  // An unreadable .deb may be a passing read error: read it again next time.
  if (doc.kind !== 'unreadable') {
    await mkdir(dir, { recursive: true })
      .then(() => writeFileAtomic(file, JSON.stringify(r)))
      .catch(() => undefined);
  }
  return r;
}

/**
 * Facts of every apt artifact whose .deb is in the store (a delta's base holds the others). A doc folder that
 * links to another package of the bundle takes that package's facts (with a note saying so).
 */
export async function aptLicences(items: readonly Locked[], ctx: BuildCtx): Promise<Map<string, LicenceFacts>> {
  // One read per core: each runs the host's decompressor (deb-doc.ts) and node-tar's parse of its output.
  const limit = pLimit(Math.max(1, Math.min(ctx.limits.concurrency, availableParallelism())));
  const read = new Map<string, Read>();
  await Promise.all(
    items.map((a) =>
      limit(async () => {
        if (ctx.signal.aborted || !(await ctx.store.has(a.digest, a.size))) return;
        read.set(a.id, await cached(a, ctx));
      }),
    ),
  );
  const out = new Map<string, LicenceFacts>();
  for (const [id, r] of read) out.set(id, r.facts);
  for (const a of items) {
    const r = read.get(a.id);
    if (r?.link === undefined) continue;
    const doc = { kind: 'link', path: r.facts.licenseFile!, target: r.link } as const;
    const name = linkTarget(doc.target);
    const arch = a.id.split(':').at(-1);
    const to = items.find((b) => b.name === name && b.id.endsWith(`:${arch}`)) ?? items.find((b) => b.name === name);
    const facts = to && out.get(to.id);
    if (facts && facts.licenseFrom !== 'link') out.set(a.id, { ...facts, licenseNote: linkNote(doc) });
    else out.set(a.id, { ...out.get(a.id)!, licenseNote: `${linkNote(doc)}, and ${name} is not in this bundle` });
  }
  return out;
}
