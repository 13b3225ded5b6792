import { parse } from 'semver';
import { compareVersions as dpkgCompare } from '../sources/apt/version.js';
import { compareVersions as pep440Compare, tryParseVersion } from '../sources/pip/pep440.js';

/** How versions of one ecosystem are ordered; `valid` says whether a string is a version of it at all. */
export interface VersionOrder {
  name: 'dpkg' | 'pep440' | 'semver';
  compare(a: string, b: string): number;
  valid(v: string): boolean;
  /** Whether two spellings name the same version (PEP 440: 1.0 and 1.0.0). */
  same(a: string, b: string): boolean;
  /**
   * PEP 440: the public part of a local version (`2.5.1+cu124` → `2.5.1`); a local label is ignored when
   * compared with a version that has none, so a PyTorch wheel matches the advisory for its release.
   */
  publicOf?(v: string): string;
}

const DPKG_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$/;

export const dpkgOrder: VersionOrder = {
  name: 'dpkg',
  compare: dpkgCompare,
  valid: (v) => DPKG_VERSION.test(v),
  same: (a, b) => a === b || (DPKG_VERSION.test(a) && DPKG_VERSION.test(b) && dpkgCompare(a, b) === 0),
};

export const pep440Order: VersionOrder = {
  name: 'pep440',
  compare: pep440Compare,
  valid: (v) => tryParseVersion(v) !== undefined,
  same: (a, b) => a === b || (tryParseVersion(a) !== undefined && tryParseVersion(b) !== undefined && pep440Compare(a, b) === 0),
  publicOf: (v) => v.split('+')[0]!,
};

/**
 * Semantic Versioning 2.0.0 §11 precedence (build metadata ignored), by the semver package; a string that is
 * not a version (OSV's "0") compares as text.
 */
export function semverCompare(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  return x.compare(y);
}

export const semverOrder: VersionOrder = {
  name: 'semver',
  compare: semverCompare,
  valid: (v) => parse(v) !== null || v === '0',
  same: (a, b) => semverCompare(a, b) === 0,
};
