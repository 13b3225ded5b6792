import type { Component } from './components.js';
import type { BundleDiff, DiffEntry } from './diff.js';

export type Bump = 'major' | 'minor' | 'patch' | 'none';

/**
 * The semantic-version bump the changes suggest (the seed's GAP-8): major when the target box changes or
 * something is removed; minor when something is added or downgraded, a model or file has other content
 * under another version, a file gains setuid, setgid or world-writable bits (security-relevant), or an
 * upgrade crosses an upstream major.minor; patch for upgrades within one upstream major.minor (Debian
 * revisions, security updates), the same version with other bytes and a file's new destination or mode;
 * none when nothing changed.
 */
export function suggestedBump(d: BundleDiff): Bump {
  const t0 = d.old.target;
  const t1 = d.new.target;
  if (t0.os !== t1.os || t0.arch !== t1.arch || t0.python !== t1.python || d.removed.length > 0) return 'major';
  if (d.added.length || d.downgraded.length || d.attention.length) return 'minor';
  const installOnly = (e: DiffEntry) => e.install !== undefined && e.from === e.to && e.fromDigest === e.toDigest;
  if (d.changed.some((e) => !e.sameVersion && !installOnly(e))) return 'minor';
  if (d.upgraded.some((e) => upstreamMinor(e.kind, e.from!) !== upstreamMinor(e.kind, e.to!))) return 'minor';
  if (d.upgraded.length || d.changed.length || d.warnings.length) return 'patch';
  return 'none';
}

function upstreamMinor(kind: Component['kind'], v: string): string {
  // apt: drop the epoch and the Debian revision; everything: the first two numeric parts.
  const up = kind === 'apt' ? v.replace(/^\d+:/, '').replace(/-[^-]*$/, '') : v;
  return /^(\d+)(?:\.(\d+))?/.exec(up)?.slice(1, 3).join('.') ?? up;
}

/** The bump from one bundle version (semver) to the next. */
export function actualBump(from: string, to: string): Bump | 'downgrade' | undefined {
  const a = /^(\d+)\.(\d+)\.(\d+)/.exec(from);
  const b = /^(\d+)\.(\d+)\.(\d+)/.exec(to);
  if (!a || !b) return undefined;
  for (const [i, bump] of [
    [1, 'major'],
    [2, 'minor'],
    [3, 'patch'],
  ] as const) {
    const x = Number(a[i]);
    const y = Number(b[i]);
    if (y > x) return bump;
    if (y < x) return 'downgrade';
  }
  return 'none';
}
