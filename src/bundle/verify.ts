/**
 * `vault-bundle verify`: a bundle folder or tar checked strictly, both ways, as a checklist of named steps over
 * one state (verify/state.ts). Every listed file is present with its hash, no file is unlisted, bundle.json
 * parses and agrees with the blobs (each artifact has its blob with its size; each blob belongs to an artifact).
 * It reports every problem, not just the first; only a bundle that cannot be read at all ends the list early.
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../util/errors.js';
import { HashPool, POOL_MIN_BYTES, interrupted } from './hashpool.js';
import { SUMS_SIG } from './layout.js';
import { type BundleReader, openBundle } from './reader.js';
import { loadTrustPolicy } from '../state/trust-policy.js';
import { checkBase, hashFiles, nameDamagedParts, partsToName, planHashes } from './verify/content.js';
import { checkExpiry, indexVsBlobs, partsMatchIndex, readIndex } from './verify/index-checks.js';
import { checkSignature, compareListing, partsPresent, readChecksums } from './verify/listing.js';
import { inReportOrder } from './verify/problems.js';
import type { VerifyOptions, VerifyReport, VerifyState, VerifyStep } from './verify/state.js';

export { type Problem, type ProblemCode, causeFirst, extraSummary, nextStep, verifyError } from './verify/problems.js';
export type { HashedFile, VerifyOptions, VerifyReport } from './verify/state.js';

/** The checklist, in the order it runs; each step's own comment cites what it enforces. */
const CHECKLIST: readonly VerifyStep[] = [
  // Every part of a split bundle is there and whole; else stop, naming the parts.
  { name: 'parts-present', timed: false, run: partsPresent },
  // SHA256SUMS (coreutils sha256sum format), read once.
  { name: 'read-sums', timed: true, run: readChecksums },
  // With --key: an OpenPGP detached signature over those bytes, by that key.
  { name: 'signature', timed: true, when: (s) => s.keys !== undefined, run: checkSignature },
  // The folder is exactly what SHA256SUMS lists, both ways.
  { name: 'compare-listing', timed: true, run: compareListing },
  // bundle.json parses as an index of this version.
  { name: 'read-index', timed: true, run: readIndex },
  // parts.json is for this bundle.
  { name: 'parts-match-index', timed: false, run: partsMatchIndex },
  // Not past its expiry (TUF's freeze attack); rollback is install's, against the box's journal.
  { name: 'expiry', timed: false, run: checkExpiry },
  // Index and blobs agree both ways (content addressing).
  { name: 'index-vs-blobs', timed: true, run: indexVsBlobs },
  { name: 'plan-hashes', timed: false, run: planHashes },
  // A delta's blobs in its base, the very bundle it was built over.
  { name: 'base', timed: true, when: (s) => s.index?.base !== undefined, run: checkBase },
  // Every listed file against its line (sha256sum -c).
  { name: 'hash', timed: true, run: hashFiles },
  // A split bundle: which part a damaged file lies in.
  { name: 'name-parts', timed: true, when: partsToName, run: nameDamagedParts },
];

/**
 * Verifies a bundle folder or tar strictly, both ways, and reports every problem (see the checklist above).
 * Usage errors (a flag without the key it needs, an unreadable key, a path that is not a bundle) and a bundle
 * without SHA256SUMS reject; everything else is a problem in the report.
 */
export async function verifyBundle(location: string, o: VerifyOptions = {}): Promise<VerifyReport> {
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
  // A key that cannot be read fails before any hashing; without --key, the box's trust policy decides. Its keys
  // (OpenPGP, a large library to set up) are read while the bundle is listed and the hashing threads boot.
  const trusted = trustFor(o);
  trusted.catch(() => undefined); // handled where it is awaited
  const steps: VerifyReport['steps'] = [];
  const timed = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    if (o.signal?.aborted) throw interrupted();
    const started = performance.now();
    try {
      return await fn();
    } finally {
      steps.push({ name, ms: Math.round(performance.now() - started) });
    }
  };
  // The key's error comes first, as when it was read before the bundle was opened.
  const reader = await timed('open', () => openBundle(location)).catch(async (err: unknown) => {
    await trusted;
    throw err;
  });
  // A big bundle's hashing threads start now, booting while the keys, the checksum list and the index are read.
  const pool = startPool(reader, o.threads, o.hashed);
  try {
    const s = initialState(reader, o, now, await trusted, pool);
    for (const step of CHECKLIST) {
      if (s.stopped) break;
      if (step.when && !step.when(s)) continue;
      if (step.timed) await timed(step.name, () => step.run(s));
      else await step.run(s);
    }
    if (pool) {
      // Where a big bundle's fixed costs go (--json): the threads' start-up (overlapping the steps before hash) and stop.
      if (pool.startMs !== undefined) steps.push({ name: 'threads-start', ms: pool.startMs }, { name: 'threads-spawn', ms: pool.spawnMs });
      // Started by boot.cjs before the CLI loaded (util/early-hash.ts): by how much earlier.
      if (pool.earlyMs !== undefined) steps.push({ name: 'threads-early', ms: pool.earlyMs });
      await timed('threads-stop', () => pool.close());
    }
    return { ...report(s, steps, Math.round(performance.now() - t0), t0), ...(pool ? { hashedBy: pool.by } : {}) };
  } finally {
    await pool?.close();
  }
}

/**
 * Hashing threads for a big bundle. Files `hashed` vouches for (a served bundle's pull hashed them as it wrote them)
 * do not count: a pulled bundle starts none (should one of them have changed since, hashAll starts its own).
 */
function startPool(reader: BundleReader, threads = availableParallelism(), hashed?: VerifyOptions['hashed']): HashPool | undefined {
  let listed = 0;
  for (const [path, e] of reader.entries) if (hashed?.get(path)?.size !== e.size) listed += e.size;
  return listed >= POOL_MIN_BYTES && threads > 1 ? new HashPool(threads, undefined, undefined, { procs: reader.form === 'dir' }) : undefined;
}

function initialState(reader: BundleReader, options: VerifyOptions, now: Date, trust: Trust, pool: HashPool | undefined): VerifyState {
  return {
    reader,
    options,
    now,
    ...trust,
    pool,
    problems: [],
    signature: { status: reader.entries.get(SUMS_SIG)?.kind === 'file' ? 'unchecked' : 'unsigned' },
    sums: { bytes: Buffer.alloc(0), list: new Map() },
    ignored: [],
    needBase: [],
    toHash: [],
    own: 0,
    bytes: 0,
    bad: [],
  };
}

/** The report, its problems by path with the cause first (a stopped list keeps the order the parts were found in). */
function report(s: VerifyState, steps: VerifyReport['steps'], durationMs: number, startedAt: number): VerifyReport {
  const { index, reader } = s;
  const problems = s.stopped ? s.problems : inReportOrder(s.problems);
  const split = reader.parts;
  return {
    bundle: reader.location,
    ok: problems.length === 0,
    ...(index ? { name: index.name, version: index.version } : (s.stopped ?? {})),
    files: s.own,
    bytes: s.bytes,
    durationMs,
    startedAtMs: Math.round(startedAt),
    steps,
    problems,
    ...(split ? { parts: { count: split.files.length, bytes: split.manifest.whole.size } } : {}),
    ...(s.base ? { base: s.base } : {}),
    signature: s.signature,
    ...(index?.expires ? { expires: index.expires, expired: Boolean(s.expired) } : {}),
    ...(s.ignored.length ? { ignored: s.ignored } : {}),
    ...(s.policy ? { policy: s.policy } : {}),
  };
}

type Trust = Pick<VerifyState, 'keys' | 'keySource' | 'signatureOptional' | 'policy'>;

/** The keys a signature is checked against: --key's, else the box trust policy's (see trust-policy.ts), else none. */
async function trustFor(o: VerifyOptions): Promise<Trust> {
  // OpenPGP (a large library to set up) is loaded only where there are keys to check against.
  const signature = () => import('./signature.js');
  if (o.key) return { keys: await (await signature()).readVerifyKeys(o.key), keySource: '--key', signatureOptional: false };
  const policy = o.trustDir === false ? undefined : await loadTrustPolicy(o.trustDir);
  if (!policy || policy.keyFiles.length === 0) return { keys: undefined, keySource: '--key', signatureOptional: false };
  const { readVerifyKeys } = await signature();
  const keys = (await Promise.all(policy.keyFiles.map((f) => readVerifyKeys(f)))).flat();
  return {
    keys,
    keySource: `the box trust policy (${policy.root})`,
    signatureOptional: !policy.requireSignature,
    policy: { root: policy.root, requireSignature: policy.requireSignature, keys: keys.map((k) => k.getFingerprint().toUpperCase()) },
  };
}
