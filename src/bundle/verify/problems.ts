import { IntegrityError, type VaultError } from '../../util/errors.js';
import { escapeName } from '../../util/escape.js';

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
  /** SHA256SUMS.asc is by the release key and its bytes verify, but the key is expired or revoked, or its dates are impossible. */
  | 'SIGNATURE_REFUSED'
  | 'UNSIGNED'
  | 'EXPIRED';

export interface Problem {
  code: ProblemCode;
  path: string;
  message: string;
  expected?: string;
  found?: string;
}

/** One error summarising a failed report, for callers (install) that must refuse the bundle. */
export function verifyError(r: { bundle: string; problems: readonly Problem[] }): VaultError {
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
    message: `${r.bundle}: ${damage.length} problem(s); first: ${escapeName(first.message)}${extra.length ? `; also ${extraSummary(extra, false, false)}` : ''}`,
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
const PROBLEM_ORDER: readonly ProblemCode[] = [
  'SIGNATURE_INVALID',
  'SIGNATURE_REFUSED',
  'UNSIGNED',
  'EXPIRED',
  'BAD_SUMS',
  'BAD_INDEX',
  'BAD_PARTS',
  'BASE_MISMATCH',
  'BASE_REQUIRED',
];

/** The first entries of PROBLEM_ORDER are about trust (signature, expiry). */
const TRUST_RANKS = 4;

export function causeFirst(problems: readonly Problem[]): Problem[] {
  const rank = (p: Problem) => {
    if (p.code === 'UNREFERENCED_BLOB') return PROBLEM_ORDER.length + 3; // the effect of an index that lost an artifact
    const i = PROBLEM_ORDER.indexOf(p.code);
    if (i >= 0 && i < TRUST_RANKS) return i; // trust first
    if (p.path === 'bundle.json' || p.path === 'SHA256SUMS') return TRUST_RANKS; // a changed index explains most of the rest
    return i < 0 ? PROBLEM_ORDER.length + 2 : i + 1;
  };
  return [...problems].sort((a, b) => rank(a) - rank(b));
}

/** By path (byte order of UTF-16 units, as `<` compares), then cause first: the order every report lists. */
export function inReportOrder(problems: readonly Problem[]): Problem[] {
  const byPath = [...problems].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Stable: by path within each rank, the cause first (what install names as "first:" too).
  return causeFirst(byPath);
}

/** What the field tech does next, for the worst kind of problem found (verify's text output ends with it). */
export function nextStep(problems: readonly Problem[]): string | undefined {
  const has = (...codes: ProblemCode[]) => problems.some((p) => codes.includes(p.code));
  if (has('SIGNATURE_REFUSED')) {
    return 'do not install from this copy: its signature is by a release key that is expired or revoked (or impossibly dated); ask the release engineer to sign it again with a current key (vault-bundle sign), or bring the key with its extended expiry to this box';
  }
  if (has('SIGNATURE_INVALID', 'UNSIGNED')) {
    return 'do not install from this copy: it is not the release as signed; check that --key is the release key, then copy the bundle again from the release medium';
  }
  if (has('EXPIRED')) {
    return 'do not install: ask the release engineer for a current bundle (--allow-expired accepts this one knowingly)';
  }
  if (has('BASE_REQUIRED')) return 'this is a delta: give its base bundle with --base <folder>';
  if (has('BASE_MISMATCH')) return 'give the base this delta was built over (inspect names it)';
  const damage = problems.filter((p) => p.code !== 'EXTRA_FILE');
  if (damage.length) {
    return 'do not install from this copy: copy the files or parts named above again from the release medium (or the whole bundle), then run verify again';
  }
  return undefined;
}
