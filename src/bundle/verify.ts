import { hexOf } from '../store/digest.js';
import type { Reporter } from '../util/events.js';
import { IntegrityError, VaultError } from '../util/errors.js';
import { limits } from '../util/limits.js';
import { hashAll } from './hashpool.js';
import { type BundleIndex, bundleIndexSchema } from './index.js';
import { BLOBS_DIR, INDEX, UNLISTED_ALLOWED, SUMS, blobPath } from './layout.js';
import { type BundleReader, openBundle } from './reader.js';
import { parseSums } from './sums.js';

export type ProblemCode =
  | 'MISSING_FILE'
  | 'UNLISTED_FILE'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'MISSING_BLOB'
  | 'UNREFERENCED_BLOB'
  | 'BAD_INDEX'
  | 'BAD_SUMS'
  | 'NOT_A_FILE';

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
}

/**
 * Verifies a bundle folder or tar strictly, both ways: every listed file is present with its hash, no file is
 * unlisted, bundle.json parses and agrees with the blobs (each artifact has its blob with its size; each blob
 * belongs to an artifact). It reports every problem, not just the first.
 */
export async function verifyBundle(
  location: string,
  o: { report?: Reporter; threads?: number } = {},
): Promise<VerifyReport> {
  const t0 = performance.now();
  const steps: VerifyReport['steps'] = [];
  const problems: Problem[] = [];
  const step = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      steps.push({ name, ms: Math.round(performance.now() - s) });
    }
  };

  const reader = await step('open', () => openBundle(location));
  const sums = await step('read-sums', () => readSums(reader));
  let index: BundleIndex | undefined;

  await step('compare-listing', () => {
    for (const [path, e] of reader.entries) {
      if (e.kind === 'dir') continue;
      if (e.kind !== 'file') {
        problems.push({ code: 'NOT_A_FILE', path, message: `${path}: a ${e.kind} has no place in a bundle` });
      } else if (!sums.has(path) && !UNLISTED_ALLOWED.has(path)) {
        problems.push({ code: 'UNLISTED_FILE', path, message: `${path}: not listed in ${SUMS} (added after build?)` });
      }
    }
    for (const path of sums.keys()) {
      if (!reader.entries.has(path)) {
        problems.push({ code: 'MISSING_FILE', path, message: `${path}: listed in ${SUMS} but missing` });
      }
    }
  });

  await step('read-index', async () => {
    if (!reader.entries.has(INDEX)) return; // already reported as missing, or the bundle is not ours
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

  await step('index-vs-blobs', () => {
    if (!index) return;
    const referenced = new Set<string>();
    for (const a of index.artifacts) {
      const p = blobPath(hexOf(a.digest));
      referenced.add(p);
      const e = reader.entries.get(p);
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
      if (e.kind === 'file' && path.startsWith(`${BLOBS_DIR}/`) && !referenced.has(path)) {
        problems.push({ code: 'UNREFERENCED_BLOB', path, message: `${path}: a blob that no artifact in bundle.json names` });
      }
    }
  });

  const toHash = [...sums.entries()].filter(([p]) => reader.entries.get(p)?.kind === 'file');
  let bytes = 0;
  await step('hash', async () => {
    const jobs = toHash.map(([p]) => reader.entries.get(p)!.job);
    const results = await hashAll(jobs, { threads: o.threads });
    results.forEach((r, i) => {
      const [path, expected] = toHash[i]!;
      bytes += r.read;
      const ok = !r.error && r.hex === expected;
      o.report?.({ type: 'verify:file', path, ok });
      if (r.error) problems.push({ code: 'MISSING_FILE', path, message: `${path}: cannot be read (${r.error})` });
      else if (!ok) {
        problems.push({
          code: 'DIGEST_MISMATCH',
          path,
          message: `${path}: content does not match ${SUMS}`,
          expected,
          found: r.hex,
        });
      }
    });
  });

  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    bundle: reader.location,
    ok: problems.length === 0,
    ...(index ? { name: index.name, version: index.version } : {}),
    files: toHash.length,
    bytes,
    durationMs: Math.round(performance.now() - t0),
    steps,
    problems,
  };
}

async function readSums(reader: BundleReader): Promise<Map<string, string>> {
  if (!reader.entries.has(SUMS)) {
    throw new IntegrityError({
      code: 'BAD_SUMS',
      message: `${reader.location}: ${reader.entries.has(INDEX) ? `${SUMS} is missing` : 'is not a vault-bundle bundle (no SHA256SUMS)'}`,
      subject: reader.location,
      hint: 'give the folder written by "vault-bundle build"; without its checksum list nothing in it can be trusted',
    });
  }
  return parseSums((await reader.read(SUMS, limits.maxIndexBytes)).toString('utf8'));
}

/** One error summarising a failed report, for callers (install) that must refuse the bundle. */
export function verifyError(r: VerifyReport): VaultError {
  const first = r.problems[0]!;
  return new IntegrityError({
    code: 'VERIFY_FAILED',
    message: `${r.bundle}: ${r.problems.length} problem(s); first: ${first.message}`,
    subject: first.path,
    hint: 'do not install from this copy; copy the bundle again from a good source and re-run verify',
  });
}
