import { escapeName } from './escape.js';

/**
 * One change of a plan, as `install --dry-run` and `rollback --dry-run` both print it: of which kind (apt, pip,
 * hf, file, stamp), what (a package, a distribution, a model ref, a path), from which version (or digest) to which.
 * Words in parentheses stand for "none": `(not installed)`, `(removed)`.
 */
export interface PlanStep {
  kind: string;
  what: string;
  from: string;
  to: string;
}

/** A plan with its title line; `missing` (rollback): what is needed and not found, each with where it would be. */
export interface Plan {
  title: string;
  steps: PlanStep[];
  missing?: string[];
}

/** The plan as text: the title, then one line per change (`  apt: hello 2.10-2 -> 2.10-3`), names escaped. */
export function planText(p: Plan, empty = 'nothing to do: the box is already there'): string {
  const lines = [escapeName(p.title)];
  if (p.steps.length === 0) lines.push(`  ${empty}`);
  for (const s of p.steps) lines.push(`  ${s.kind}: ${escapeName(s.what)} ${escapeName(s.from)} -> ${escapeName(s.to)}`);
  for (const m of p.missing ?? []) lines.push(`  missing: ${escapeName(m)}`);
  return lines.join('\n');
}
