import { createHash } from 'node:crypto';
import type { Locked } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import type { Reporter } from '../util/events.js';
import { IntegrityError, UsageError, VaultError } from '../util/errors.js';
import { limits } from '../util/limits.js';
import { availableParallelism } from 'node:os';
import { type HashJob, HashPool, POOL_MIN_BYTES, hashAll, interrupted, wholeFile } from './hashpool.js';
import { type BaseRef, type BundleIndex, bundleIndexSchema } from './index.js';
import { BLOBS_DIR, INDEX, PARTS, PART_NAME, UNLISTED_ALLOWED, SUMS, SUMS_SIG, blobPath, isBundlePath, isOsMetadata } from './layout.js';
import { type BundleReader, type SplitParts, openBundle } from './reader.js';
import { parseSums } from './sums.js';
import { type SignatureStatus, checkDetached, readVerifyKeys } from './signature.js';

export type ProblemCode =
  | 'MISSING_FILE'
  /** A file where the bundle's own files go (blobs/, runtime/, bundle.json…) that SHA256SUMS does not list. */
  | 'UNLISTED_FILE'
  /** Any other file SHA256SUMS does not list: left in the folder (results, a probe), not damage. */
  | 'EXTRA_FILE'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'MISSING_BLOB'
  | 'UNREFERENCED_BLOB'
  | 'BAD_INDEX'
  | 'BAD_SUMS'
  | 'NOT_A_FILE'
  | 'PART_MISSING'
  | 'PART_DAMAGED'
  /** A part (or the end of one) after the end of the blob tar: not part of the bundle. */
  | 'PART_EXTRA'
  /** parts.json disagrees with bundle.json (another bundle's parts). */
  | 'BAD_PARTS'
  | 'BASE_REQUIRED'
  | 'BASE_MISMATCH'
  | 'SIGNATURE_INVALID'
  | 'UNSIGNED'
  | 'EXPIRED';

export interface Problem {
  code: ProblemCode;
  path: string;
  message: string;
  expected?: string;
  found?: string;
}

export interface VerifyReport {
  bundle: string;
  ok: boolean;
  name?: string;
  version?: string;
  files: number;
  bytes: number;
  durationMs: number;
  /** Each step with its time, in the order run (the cacache verify habit). */
  steps: { name: string; ms: number }[];
  problems: Problem[];
  /** A split bundle: its parts. */
  parts?: { count: number; bytes: number };
  /** A delta bundle: its base, and whether the blobs it leaves to the base were checked there. */
  base?: { name: string; version: string; blobs: number; bytes: number; checkedIn?: string };
  /** SHA256SUMS.asc: checked against --key (valid, invalid), absent (unsigned), or present but no key given (unchecked). */
  signature: SignatureStatus;
  /** Unlisted macOS/Windows metadata (.DS_Store, ._*, System Volume Information/…): ignored, never read. */
  ignored?: string[];
  /** bundle.json's expiry, and whether it has passed (a failure unless --allow-expired). */
  expires?: string;
  expired?: boolean;
}

/**
 * Verifies a bundle folder or tar strictly, both ways: every listed file is present with its hash, no file is
 * unlisted, bundle.json parses and agrees with the blobs (each artifact has its blob with its size; each blob
 * belongs to an artifact). It reports every problem, not just the first.
 */
export async function verifyBundle(
  location: string,
  o: {
    report?: Reporter;
    threads?: number;
    base?: string;
    /** Release public key file: SHA256SUMS.asc must be present and verify against it. */
    key?: string;
    /** Kept for compatibility: a key already requires a signature. Without a key it is a usage error. */
    requireSignature?: boolean;
    allowExpired?: boolean;
    /** Clock for the signature and expiry checks (tests pin it). */
    now?: Date;
    /** Ctrl-C: hashing stops (the threads are terminated) and verify rejects with InterruptedError. */
    signal?: AbortSignal;
  } = {},
): Promise<VerifyReport> {
  const t0 = performance.now();
  const now = o.now ?? new Date();
  if (o.requireSignature && !o.key) {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: '--require-signature needs --key <public key file>: a signature proves nothing without the key it must be by',
      subject: '--require-signature',
      hint: 'add --key with the release public key (brought to the box separately from the bundle)',
    });
  }
  // A key that cannot be read fails before any hashing.
  const keys = o.key ? await readVerifyKeys(o.key) : undefined;
  const steps: VerifyReport['steps'] = [];
  const problems: Problem[] = [];
  const step = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    if (o.signal?.aborted) throw interrupted();
    const s = performance.now();
    try {
      return await fn();
    } finally {
      steps.push({ name, ms: Math.round(performance.now() - s) });
    }
  };

  const reader = await step('open', () => openBundle(location));
  // A big bundle's hashing threads start now, booting while the checksum list and index are read.
  let listed = 0;
  for (const e of reader.entries.values()) listed += e.size;
  const threads = o.threads ?? availableParallelism();
  const pool = listed >= POOL_MIN_BYTES && threads > 1 ? new HashPool(threads) : undefined;
  try {
    return await verifyOpened();
  } finally {
    await pool?.close();
  }

  async function verifyOpened(): Promise<VerifyReport> {
    let signature: SignatureStatus = { status: reader.entries.get(SUMS_SIG)?.kind === 'file' ? 'unchecked' : 'unsigned' };
    const split = reader.parts;
    const partsInfo = split ? { parts: { count: split.files.length, bytes: split.manifest.whole.size } } : {};
    if (split && split.broken.length > 0) {
      // Nothing past a missing or cut part can be read: name the parts before anything else.
      for (const b of split.broken) {
        problems.push({
          code: 'PART_MISSING',
          path: b.file,
          message: `${b.file} (part ${b.index + 1} of ${split.files.length}): ${b.why}; copy it again from the build host`,
        });
      }
      // bundle.json lies loose beside the parts: name the bundle even though its blobs cannot be read.
      const idx = bundleIndexSchema.safeParse(await reader.read(INDEX, limits.maxIndexBytes).then((b) => JSON.parse(b.toString('utf8')) as unknown, () => undefined));
      const named = idx.success ? { name: idx.data.name, version: idx.data.version } : {};
      return { bundle: reader.location, ok: false, ...named, files: 0, bytes: 0, durationMs: Math.round(performance.now() - t0), steps, problems, ...partsInfo, signature };
    }
    // One read of SHA256SUMS: the bytes the signature is checked over are the bytes whose list is trusted.
    const { sums, sumsBytes } = await step('read-sums', () => readSums(reader));
    if (keys) {
      await step('signature', async () => {
        const expected = keys.map((k) => k.getFingerprint().toUpperCase());
        if (signature.status === 'unsigned') {
          signature = { status: 'unsigned', expected };
          // A key means a signature is required: a copy with SHA256SUMS.asc deleted must not pass as merely "unsigned".
          problems.push({ code: 'UNSIGNED', path: SUMS_SIG, message: `${SUMS_SIG}: missing; the bundle is not signed, and --key requires a signature by that key`, expected: expected.join(', ') });
          return;
        }
        signature = await checkDetached(sumsBytes, await reader.read(SUMS_SIG, limits.maxIndexBytes), keys, now);
        if (signature.status === 'invalid') {
          problems.push({
            code: 'SIGNATURE_INVALID',
            path: SUMS_SIG,
            message: signature.reason ?? `${SUMS_SIG}: does not verify`,
            expected: expected.join(', '),
            ...(signature.signer ? { found: signature.signer } : {}),
          });
        }
      });
    }
    let index: BundleIndex | undefined;
    const ignored: string[] = [];

    await step('compare-listing', () => {
      for (const [path, e] of reader.entries) {
        if (e.kind === 'dir') continue;
        const listed = sums.has(path) || UNLISTED_ALLOWED.has(path);
        if (!listed && isOsMetadata(path)) {
          ignored.push(path);
        } else if (e.kind !== 'file') {
          problems.push({ code: 'NOT_A_FILE', path, message: `${path}: a ${e.what ?? e.kind} has no place in a bundle` });
        } else if (!listed && isBundlePath(path)) {
          const why = path === PARTS
            ? `not listed in ${SUMS}: its part sizes and hashes are not covered (a split bundle built before ${SUMS} listed ${PARTS}: rebuild it)`
            : PART_NAME.test(path)
              ? `a part that ${PARTS} does not list (left from another copy of a bundle, or added): nothing reads it`
              : `not listed in ${SUMS}, though the bundle's own files go there (${SUMS} edited, or another bundle copied into this folder)`;
          problems.push({ code: 'UNLISTED_FILE', path, message: `${path}: ${why}` });
        } else if (!listed) {
          problems.push({ code: 'EXTRA_FILE', path, message: `${path}: not in the bundle (not listed in ${SUMS}); nothing reads it` });
        }
      }
      for (const x of split?.extra ?? []) {
        problems.push({
          code: 'PART_EXTRA',
          path: x.file,
          message: `${x.file} (part ${x.index + 1} of ${split!.files.length}) ${x.why}: those bytes are not part of the bundle (nothing reads them); copy the bundle again from the release medium`,
        });
      }
      for (const path of sums.keys()) {
        const kind = reader.entries.get(path)?.kind;
        if (kind === undefined) problems.push({ code: 'MISSING_FILE', path, message: `${path}: listed in ${SUMS} but missing` });
        // A directory (or link) where a listed file should be is neither missing nor hashable: name it.
        else if (kind !== 'file') problems.push({ code: 'NOT_A_FILE', path, message: `${path}: listed in ${SUMS} as a file, but it is a ${kind}` });
      }
    });

    await step('read-index', async () => {
      if (reader.entries.get(INDEX)?.kind !== 'file') return; // already reported as missing or not a file
      try {
        const raw: unknown = JSON.parse((await reader.read(INDEX, limits.maxIndexBytes)).toString('utf8'));
        const r = bundleIndexSchema.safeParse(raw);
        if (!r.success) {
          const i = r.error.issues[0]!;
          problems.push({ code: 'BAD_INDEX', path: INDEX, message: `${INDEX}: ${i.path.join('.')}: ${i.message}` });
        } else index = r.data as BundleIndex;
      } catch (err) {
        problems.push({ code: 'BAD_INDEX', path: INDEX, message: `${INDEX}: not valid JSON (${(err as Error).message})` });
      }
    });

    if (index && split && (split.manifest.name !== index.name || split.manifest.version !== index.version)) {
      problems.push({
        code: 'BAD_PARTS',
        path: PARTS,
        message: `${PARTS} is for ${split.manifest.name} ${split.manifest.version}, ${INDEX} for ${index.name} ${index.version}: parts of another bundle`,
        expected: `${index.name} ${index.version}`,
        found: `${split.manifest.name} ${split.manifest.version}`,
      });
    }

    // Freeze protection: a bundle past its expiry is refused (TUF's freeze attack: replaying an old, valid bundle).
    let expired: boolean | undefined;
    if (index?.expires) {
      expired = Date.parse(index.expires) <= now.getTime();
      if (expired && !o.allowExpired) {
        const days = Math.floor((now.getTime() - Date.parse(index.expires)) / 86_400_000);
        problems.push({
          code: 'EXPIRED',
          path: INDEX,
          message: `${INDEX}: ${index.name} ${index.version} expired on ${index.expires}${days > 0 ? ` (${days} day(s) ago)` : ''}; get a current bundle, or accept it knowingly with --allow-expired`,
          expected: `before ${index.expires}`,
          found: now.toISOString(),
        });
      }
    }
    const fromBase = new Set(index?.base?.blobs ?? []);
    const needBase: Locked[] = [];
    await step('index-vs-blobs', () => {
      if (!index) return;
      const referenced = new Set<string>();
      for (const a of index.artifacts) {
        const p = blobPath(hexOf(a.digest));
        referenced.add(p);
        const e = reader.entries.get(p);
        if (!e && fromBase.has(a.digest)) {
          if (!needBase.some((b) => b.digest === a.digest)) needBase.push(a);
          continue;
        }
        if (!e) {
          problems.push({ code: 'MISSING_BLOB', path: p, message: `${a.id}: its blob ${p} is missing` });
          continue;
        }
        if (e.size !== a.size) {
          problems.push({
            code: 'SIZE_MISMATCH',
            path: p,
            message: `${a.id}: ${p} has ${e.size} bytes, bundle.json says ${a.size}`,
            expected: String(a.size),
            found: String(e.size),
          });
        }
        const listed = sums.get(p);
        if (listed !== undefined && listed !== hexOf(a.digest)) {
          problems.push({
            code: 'DIGEST_MISMATCH',
            path: p,
            message: `${a.id}: ${SUMS} and bundle.json disagree about ${p}`,
            expected: hexOf(a.digest),
            found: listed,
          });
        }
      }
      for (const [path, e] of reader.entries) {
        if (e.kind === 'file' && path.startsWith(`${BLOBS_DIR}/`) && !referenced.has(path) && !ignored.includes(path)) {
          problems.push({ code: 'UNREFERENCED_BLOB', path, message: `${path}: a blob that no artifact in bundle.json names` });
        }
      }
    });

    const toHash: { path: string; job: HashJob; expected: string }[] = [...sums.entries()]
      .filter(([p]) => reader.entries.get(p)?.kind === 'file')
      .map(([path, expected]) => ({ path, job: reader.entries.get(path)!.job, expected }));
    const own = toHash.length;
    let baseInfo: VerifyReport['base'];
    if (index?.base) {
      const b = index.base;
      baseInfo = { name: b.name, version: b.version, blobs: needBase.length, bytes: needBase.reduce((n, a) => n + a.size, 0) };
      await step('base', async () => {
        if (needBase.length === 0) return;
        const baseBlobs = o.base ? await openBase(o.base, b, problems) : undefined;
        if (!baseBlobs) {
          if (!o.base) {
            for (const a of needBase) {
              const p = blobPath(hexOf(a.digest));
              problems.push({
                code: 'BASE_REQUIRED',
                path: p,
                message: `${a.id}: a delta over ${b.name} ${b.version}; its blob ${p} is in that base bundle (give --base <it>)`,
              });
            }
          }
          return;
        }
        baseInfo!.checkedIn = baseBlobs.location;
        for (const a of needBase) {
          const p = blobPath(hexOf(a.digest));
          const e = baseBlobs.entries.get(p);
          if (e?.kind !== 'file') {
            problems.push({ code: 'MISSING_BLOB', path: p, message: `${a.id}: its blob ${p} is in neither this delta nor its base ${baseBlobs.location}` });
          } else toHash.push({ path: `base:${p}`, job: e.job, expected: hexOf(a.digest) });
        }
      });
    }
    let bytes = 0;
    const bad: HashJob[] = [];
    await step('hash', async () => {
      const results = await hashAll(toHash.map((h) => h.job), { threads: o.threads, ...(pool ? { pool } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      results.forEach((r, i) => {
        const { path, expected, job } = toHash[i]!;
        bytes += r.read;
        const ok = !r.error && r.hex === expected;
        o.report?.({ type: 'verify:file', path, ok });
        if (!ok) bad.push(job);
        if (r.error) problems.push({ code: 'MISSING_FILE', path, message: `${path}: cannot be read (${r.error})` });
        else if (!ok) {
          problems.push({
            code: 'DIGEST_MISMATCH',
            path,
            message: `${path}: content does not match ${path.startsWith('base:') ? 'the delta\'s bundle.json' : SUMS}`,
            expected,
            found: r.hex,
          });
        }
      });
    });
    // Part hashes are only worth comparing with a parts.json that matched its SHA256SUMS line.
    const partsTrusted = !problems.some((p) => p.path === PARTS && p.code === 'DIGEST_MISMATCH');
    if (split && bad.length > 0 && partsTrusted) await step('name-parts', () => nameDamagedParts(split, bad, problems, { threads: o.threads, pool, signal: o.signal }));

    problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    // Stable: by path within each rank, the cause first (what install names as "first:" too).
    problems.splice(0, problems.length, ...causeFirst(problems));
    return {
      bundle: reader.location,
      ok: problems.length === 0,
      ...(index ? { name: index.name, version: index.version } : {}),
      files: own,
      bytes,
      durationMs: Math.round(performance.now() - t0),
      steps,
      problems,
      ...partsInfo,
      ...(baseInfo ? { base: baseInfo } : {}),
      signature,
      ...(index?.expires ? { expires: index.expires, expired: Boolean(expired) } : {}),
      ...(ignored.length ? { ignored } : {}),
    };
  }
}

/** A file that failed inside a split bundle: hash the parts it lies in, to say which part to copy again. */
async function nameDamagedParts(
  split: SplitParts,
  bad: HashJob[],
  problems: Problem[],
  o: { threads: number | undefined; pool: HashPool | undefined; signal: AbortSignal | undefined },
): Promise<void> {
  const suspects = [...new Set(bad.flatMap((j) => split.partsOf(j)))].sort((a, b) => a - b);
  const results = await hashAll(suspects.map((i) => wholeFile(split.files[i]!, split.manifest.parts[i]!.size)), {
    threads: o.threads,
    ...(o.pool ? { pool: o.pool } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  results.forEach((r, k) => {
    const i = suspects[k]!;
    const p = split.manifest.parts[i]!;
    if (r.hex !== p.sha256) {
      problems.push({
        code: 'PART_DAMAGED',
        path: p.file,
        message: `${p.file} (part ${i + 1} of ${split.files.length}) is damaged: its sha256 is not the one in ${PARTS}; copy that part again`,
        expected: p.sha256,
        found: r.hex,
      });
    }
  });
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

async function readSums(reader: BundleReader): Promise<{ sums: Map<string, string>; sumsBytes: Buffer }> {
  if (!reader.entries.has(SUMS)) {
    throw new IntegrityError({
      code: 'BAD_SUMS',
      message: `${reader.location}: ${reader.entries.has(INDEX) ? `${SUMS} is missing` : 'is not a vault-bundle bundle (no SHA256SUMS)'}`,
      subject: reader.location,
      hint: 'give the folder written by "vault-bundle build"; without its checksum list nothing in it can be trusted',
    });
  }
  const sumsBytes = await reader.read(SUMS, limits.maxIndexBytes);
  return { sums: parseSums(sumsBytes.toString('utf8')), sumsBytes };
}

/** One error summarising a failed report, for callers (install) that must refuse the bundle. */
export function verifyError(r: VerifyReport): VaultError {
  const extra = r.problems.filter((p) => p.code === 'EXTRA_FILE').map((p) => p.path);
  const damage = r.problems.filter((p) => p.code !== 'EXTRA_FILE');
  if (damage.length === 0) {
    return new IntegrityError({
      code: 'EXTRA_FILES',
      message: `${r.bundle}: ${extraSummary(extra, true, false)}`,
      subject: extra[0],
      hint: 'nothing reads them, but only a folder that is exactly the bundle is installed from: move them out (beside the bundle folder), then run again',
    });
  }
  const first = damage[0]!;
  return new IntegrityError({
    code: 'VERIFY_FAILED',
    message: `${r.bundle}: ${damage.length} problem(s); first: ${first.message}${extra.length ? `; also ${extraSummary(extra, false, false)}` : ''}`,
    subject: first.path,
    hint: 'do not install from this copy; copy the bundle again from a good source and re-run verify',
  });
}

/**
 * The one line for files left in a bundle folder, which are not damage: what they are and what to do. The
 * bundle's own files are called intact only when nothing else failed.
 */
export function extraSummary(paths: readonly string[], intact: boolean, listedBelow: boolean): string {
  const n = paths.length;
  const which = listedBelow ? 'listed below' : paths.length > 5 ? `${paths.slice(0, 5).join(', ')} and ${n - 5} more` : paths.join(', ');
  return `${n} ${n === 1 ? 'file' : 'files'} not in the bundle (${which}): move them out of the bundle folder${intact ? "; the bundle's own files are intact" : ''}`;
}

/** Problems in the order a reader should meet them: the cause (trust, the index, the base) before its effects. */
const PROBLEM_ORDER: readonly ProblemCode[] = ['SIGNATURE_INVALID', 'UNSIGNED', 'EXPIRED', 'BAD_SUMS', 'BAD_INDEX', 'BAD_PARTS', 'BASE_MISMATCH', 'BASE_REQUIRED'];

export function causeFirst(problems: readonly Problem[]): Problem[] {
  const rank = (p: Problem) => {
    if (p.code === 'UNREFERENCED_BLOB') return PROBLEM_ORDER.length + 3; // the effect of an index that lost an artifact
    const i = PROBLEM_ORDER.indexOf(p.code);
    if (i >= 0 && i < 3) return i; // trust first
    if (p.path === 'bundle.json' || p.path === 'SHA256SUMS') return 3; // a changed index explains most of the rest
    return i < 0 ? PROBLEM_ORDER.length + 2 : i + 1;
  };
  return [...problems].sort((a, b) => rank(a) - rank(b));
}

/** What the field tech does next, for the worst kind of problem found (verify's text output ends with it). */
export function nextStep(problems: readonly Problem[]): string | undefined {
  const has = (...codes: ProblemCode[]) => problems.some((p) => codes.includes(p.code));
  if (has('SIGNATURE_INVALID', 'UNSIGNED')) return 'do not install from this copy: it is not the release as signed; check that --key is the release key, then copy the bundle again from the release medium';
  if (has('EXPIRED')) return 'do not install: ask the release engineer for a current bundle (--allow-expired accepts this one knowingly)';
  if (has('BASE_REQUIRED')) return 'this is a delta: give its base bundle with --base <folder>';
  if (has('BASE_MISMATCH')) return 'give the base this delta was built over (inspect names it)';
  const damage = problems.filter((p) => p.code !== 'EXTRA_FILE');
  if (damage.length) return 'do not install from this copy: copy the files or parts named above again from the release medium (or the whole bundle), then run verify again';
  return undefined;
}
