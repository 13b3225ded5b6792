/**
 * The last steps of verify's checklist: every listed file (and a delta's blobs in its base) is hashed and
 * compared, and a split bundle names the part a damaged file lies in.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hexOf } from '../../store/digest.js';
import { limits } from '../../util/limits.js';
import { type HashJob, type HashPool, type HashResult, hashAll, wholeFile } from '../hashpool.js';
import type { BaseRef } from '../index.js';
import { INDEX, PARTS, SUMS, blobPath } from '../layout.js';
import { type BundleReader, type SplitParts, openBundle } from '../reader.js';
import type { Problem } from './problems.js';
import type { HashTarget, VerifyState } from './state.js';

/** Every file SHA256SUMS lists that is there as a file is hashed against its line (coreutils `sha256sum -c`). */
export function planHashes(s: VerifyState): void {
  for (const [path, expected] of s.sums.list) {
    const e = s.reader.entries.get(path);
    if (e?.kind === 'file') s.toHash.push({ path, job: e.job, expected });
  }
  s.own = s.toHash.length;
}

/**
 * A delta (bundle.json's `base`) leaves some blobs to the bundle it was built over: with --base, that bundle
 * must be the very one (its bundle.json's sha256 is the one the delta names), and its blobs are hashed against
 * the delta's bundle.json. Without --base, each such blob is BASE_REQUIRED.
 */
export async function checkBase(s: VerifyState): Promise<void> {
  const b = s.index!.base!;
  s.base = { name: b.name, version: b.version, blobs: s.needBase.length, bytes: s.needBase.reduce((n, a) => n + a.size, 0) };
  if (s.needBase.length === 0) return;
  const where = s.options.base;
  if (!where) {
    for (const a of s.needBase) {
      const p = blobPath(hexOf(a.digest));
      s.problems.push({
        code: 'BASE_REQUIRED',
        path: p,
        message: `${a.id}: a delta over ${b.name} ${b.version}; its blob ${p} is in that base bundle (give --base <it>)`,
      });
    }
    return;
  }
  const baseBlobs = await openBase(where, b, s.problems);
  if (!baseBlobs) return;
  s.base.checkedIn = baseBlobs.location;
  for (const a of s.needBase) {
    const p = blobPath(hexOf(a.digest));
    const e = baseBlobs.entries.get(p);
    if (e?.kind !== 'file') {
      s.problems.push({ code: 'MISSING_BLOB', path: p, message: `${a.id}: its blob ${p} is in neither this delta nor its base ${baseBlobs.location}` });
    } else s.toHash.push({ path: `base:${p}`, job: e.job, expected: hexOf(a.digest) });
  }
}

/** The base of a delta: opened, and checked to be the very bundle the delta was built over. */
async function openBase(location: string, b: BaseRef, problems: Problem[]): Promise<BundleReader | undefined> {
  const base = await openBundle(location);
  const raw = base.entries.get(INDEX)?.kind === 'file' ? await base.read(INDEX, limits.maxIndexBytes) : undefined;
  const found = raw ? `sha256:${createHash('sha256').update(raw).digest('hex')}` : 'no bundle.json';
  if (found !== b.index) {
    problems.push({
      code: 'BASE_MISMATCH',
      path: INDEX,
      message: `${location} is not the base this delta was built over (${b.name} ${b.version})`,
      expected: b.index,
      found,
    });
    return undefined;
  }
  return base;
}

/**
 * Hashes every planned file, on the pool's threads when the bundle is big. With a reporter: the plan first
 * (files and bytes), then each file as it is judged, in the order they finish (a progress line's feed).
 */
export async function hashFiles(s: VerifyState): Promise<void> {
  const o = s.options;
  const report = o.report;
  const done = await alreadyHashed(s);
  const rest = s.toHash.filter((h) => !done.has(h));
  const jobs = rest.map((h) => h.job);
  const which = new Map(jobs.map((j, i) => [j, rest[i]!]));
  report?.({ type: 'verify:plan', files: s.toHash.length, bytes: s.toHash.reduce((n, h) => n + h.job.length, 0) });
  // Files the served-bundle pull hashed as it wrote them (size and mtime unchanged) count as done.
  for (const h of done) {
    s.bytes += h.job.length;
    report?.({ type: 'verify:file', path: h.path, ok: true, bytes: h.job.length });
  }
  const progress = report
    ? {
        onDone: (job: HashJob, r: HashResult) => {
          const t = which.get(job)!;
          report({ type: 'verify:file', path: t.path, ok: !r.error && r.hex === t.expected, bytes: r.read });
        },
        onBytes: (job: HashJob, read: number) => report({ type: 'verify:progress', path: which.get(job)!.path, bytes: read }),
      }
    : {};
  const results = await hashAll(jobs, { threads: o.threads, ...(s.pool ? { pool: s.pool } : {}), ...(o.signal ? { signal: o.signal } : {}), ...progress });
  results.forEach((r, i) => {
    const { path, expected, job } = rest[i]!;
    s.bytes += r.read;
    const ok = !r.error && r.hex === expected;
    if (!ok) s.bad.push(job);
    if (r.error) s.problems.push({ code: 'MISSING_FILE', path, message: `${path}: cannot be read (${r.error})` });
    else if (!ok) {
      s.problems.push({
        code: 'DIGEST_MISMATCH',
        path,
        message: `${path}: content does not match ${path.startsWith('base:') ? "the delta's bundle.json" : SUMS}`,
        expected,
        found: r.hex,
      });
    }
  });
}

/**
 * A file that failed inside a split bundle: hash the parts it lies in (against parts.json), to say which part
 * to copy again. Only worth it with a parts.json that matched its SHA256SUMS line.
 */
export function partsToName(s: VerifyState): boolean {
  return s.reader.parts !== undefined && s.bad.length > 0 && !s.problems.some((p) => p.path === PARTS && p.code === 'DIGEST_MISMATCH');
}

export async function nameDamagedParts(s: VerifyState): Promise<void> {
  const split: SplitParts = s.reader.parts!;
  const suspects = [...new Set(s.bad.flatMap((j: HashJob) => split.partsOf(j)))].sort((a, b) => a - b);
  const pool: HashPool | undefined = s.pool;
  const results = await hashAll(
    suspects.map((i) => wholeFile(split.files[i]!, split.manifest.parts[i]!.size)),
    { threads: s.options.threads, ...(pool ? { pool } : {}), ...(s.options.signal ? { signal: s.options.signal } : {}) },
  );
  results.forEach((r, k) => {
    const i = suspects[k]!;
    const p = split.manifest.parts[i]!;
    if (r.hex !== p.sha256) {
      s.problems.push({
        code: 'PART_DAMAGED',
        path: p.file,
        message: `${p.file} (part ${i + 1} of ${split.files.length}) is damaged: its sha256 is not the one in ${PARTS}; copy that part again`,
        expected: p.sha256,
        found: r.hex,
      });
    }
  });
}

/** The planned files that `options.hashed` vouches for: a whole file, its hash the expected one, size and mtime unchanged. */
async function alreadyHashed(s: VerifyState): Promise<Set<HashTarget>> {
  const out = new Set<HashTarget>();
  const known = s.options.hashed;
  if (!known) return out;
  for (const h of s.toHash) {
    const k = known.get(h.path);
    const seg = h.job.segments;
    if (!k || k.hex !== h.expected || seg.length !== 1 || seg[0]!.offset !== 0 || seg[0]!.length !== k.size) continue;
    const st = await stat(seg[0]!.file).catch(() => undefined);
    if (st?.size === k.size && st.mtimeMs === k.mtimeMs) out.add(h);
  }
  return out;
}
