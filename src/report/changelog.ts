import { formatBytes } from '../util/format.js';
import { installText } from '../sbom/install.js';
import { actualBump, suggestedBump } from './bump.js';
import type { BundleDiff, DiffEntry } from './diff.js';

/** A size change with its sign: "+196 KiB", "-12 B", "±0 B". */
export function signedBytes(n: number): string {
  if (n === 0) return '±0 B';
  return `${n > 0 ? '+' : '-'}${formatBytes(Math.abs(n))}`;
}

const short = (d: string | undefined): string => (d ? `${d.slice(0, 19)}…` : '');

const versions = (e: DiffEntry): string => (e.from !== undefined && e.to !== undefined ? `${e.from} → ${e.to}` : (e.to ?? e.from ?? ''));

/** The human text of `vault-bundle diff`. */
export function diffText(d: BundleDiff): string {
  const out = [
    `${d.old.name} ${d.old.version} → ${d.new.name} ${d.new.version}: ${d.old.artifacts} → ${d.new.artifacts} artifacts, ` +
      `${formatBytes(d.old.bytes)} → ${formatBytes(d.new.bytes)} (${signedBytes(d.sizeDelta)})`,
  ];
  if (d.old.name !== d.new.name) out.push(`note: the bundles have different names (${d.old.name}, ${d.new.name})`);
  const target = targetChange(d);
  if (target) out.push(`target: ${target}`);
  for (const a of d.attention) {
    out.push(`ATTENTION: ${a.name} now installs to ${installText(a.install)}${a.was ? ` (was ${installText(a.was)})` : ' (new file)'}`);
  }
  for (const [title, list] of sectionsOf(d)) {
    if (list.length === 0) continue;
    out.push('', `${title} (${list.length}):`);
    const wk = Math.max(...list.map((e) => e.kind.length));
    const wn = Math.max(...list.map((e) => e.name.length));
    const wv = Math.max(...list.map((e) => versions(e).length));
    for (const e of list) {
      out.push(
        `  ${e.kind.padEnd(wk)}  ${e.name.padEnd(wn)}  ${versions(e).padEnd(wv)}  ${signedBytes(e.sizeDelta).padStart(12)}${e.note ? `  ${e.note}` : ''}`,
      );
    }
  }
  if (d.warnings.length) {
    out.push('', `warnings (${d.warnings.length}):`);
    for (const w of d.warnings) {
      out.push(
        `  ${w.kind} ${w.name} ${w.version}: same version, different sha256 (${short(w.from)} → ${short(w.to)})` +
          `${w.files ? `; files ${w.files.join(', ')}` : ''}`,
      );
    }
  }
  out.push('', countsText(d));
  return out.join('\n');
}

/** "debian-12 amd64 → debian-13 amd64" when the box the bundles are for differs; undefined when it does not. */
export function targetChange(d: BundleDiff): string | undefined {
  const t0 = d.old.target;
  const t1 = d.new.target;
  if (t0.os === t1.os && t0.arch === t1.arch && t0.python === t1.python) return undefined;
  const t = (x: typeof t0) => `${x.os} ${x.arch}${x.python ? ` python ${x.python}` : ''}`;
  return `${t(t0)} → ${t(t1)}`;
}

/** Each category counted apart: "changed" is only what has no version order (and the same version with other bytes). */
export function countsText(d: BundleDiff): string {
  return (
    `${d.added.length} added, ${d.removed.length} removed, ${d.upgraded.length} upgraded, ${d.downgraded.length} downgraded, ` +
    `${d.changed.length} changed, ${d.unchanged} unchanged; ${d.warnings.length} warning(s)`
  );
}

/** Markdown inline code that stays code whatever the text holds (names come from upstream metadata). */
function code(s: string): string {
  const ticks = '`'.repeat(Math.max(0, ...[...s.matchAll(/`+/g)].map((m) => m[0].length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s.replace(/[\r\n]+/g, ' ')}${pad}${ticks}`;
}

/**
 * A Markdown section for release notes: what this bundle version changes against the previous one, and the
 * semantic-version bump those changes suggest (the seed's GAP-8 versioning).
 */
export function changelogMarkdown(d: BundleDiff): string {
  const day = (iso: string) => iso.slice(0, 10);
  const out = [
    `## ${d.new.name} ${d.new.version} (${day(d.new.created)})`,
    '',
    `Compared with ${d.old.name} ${d.old.version} (${day(d.old.created)}): ${d.old.artifacts} → ${d.new.artifacts} artifacts, ` +
      `${formatBytes(d.old.bytes)} → ${formatBytes(d.new.bytes)} (${signedBytes(d.sizeDelta)}).`,
  ];
  const target = targetChange(d);
  if (target) out.push('', `Target: ${target}.`);
  if (d.attention.length) {
    out.push('', `### Attention: setuid, setgid or world-writable (${d.attention.length})`, '');
    for (const a of d.attention) {
      out.push(`- ${code(a.name)} installs to ${code(installText(a.install))}${a.was ? `, was ${code(installText(a.was))}` : ' (new file)'}`);
    }
  }
  const want = suggestedBump(d);
  const got = actualBump(d.old.version, d.new.version);
  const rank = { none: 0, patch: 1, minor: 2, major: 3 } as const;
  let versioning = `Versioning: these changes suggest a **${want}** version bump`;
  if (got === 'downgrade') versioning += `; ${d.old.version} → ${d.new.version} goes backwards`;
  else if (got !== undefined && rank[got] < rank[want]) versioning += `; ${d.old.version} → ${d.new.version} is only a ${got} bump`;
  out.push('', `${versioning}.`);
  for (const [lower, list] of sectionsOf(d)) {
    const title = lower[0]!.toUpperCase() + lower.slice(1);
    if (list.length === 0) continue;
    out.push('', `### ${title} (${list.length})`, '');
    for (const e of list) {
      const v = e.from !== undefined && e.to !== undefined ? `${code(e.from)} → ${code(e.to)}` : code(e.to ?? e.from ?? '');
      out.push(`- ${code(e.name)} ${v} (${e.kind}${e.note ? `; ${e.note}` : ''})`);
    }
  }
  if (d.warnings.length) {
    out.push('', `### Warnings (${d.warnings.length})`, '');
    for (const w of d.warnings) {
      out.push(`- ${code(w.name)} ${code(w.version)} (${w.kind}): same version, different sha256 (${code(w.from)} → ${code(w.to)})`);
    }
  }
  if (d.upgraded.length + d.downgraded.length + d.added.length + d.removed.length + d.changed.length + d.warnings.length === 0) {
    out.push('', 'No component changed.');
  }
  return `${out.join('\n')}\n`;
}

/** The diff's lists in the order both the plain diff and the changelog show them. */
function sectionsOf(d: {
  upgraded: DiffEntry[];
  downgraded: DiffEntry[];
  added: DiffEntry[];
  removed: DiffEntry[];
  changed: DiffEntry[];
}): [string, DiffEntry[]][] {
  return [
    ['upgraded', d.upgraded],
    ['downgraded', d.downgraded],
    ['added', d.added],
    ['removed', d.removed],
    ['changed', d.changed],
  ];
}
