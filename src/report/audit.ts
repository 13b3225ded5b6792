import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { UsageError } from '../util/errors.js';
import { limits } from '../util/limits.js';

/** One finding of `vault-bundle audit --json` (or any scanner turned into this shape). */
export interface AuditFinding {
  id: string;
  severity: string;
  package: string;
  version?: string;
  summary?: string;
}

const finding = z.looseObject({
  id: z.string().min(1),
  severity: z.string().default('unknown'),
  package: z.string().min(1),
  version: z.string().optional(),
  summary: z.string().optional(),
});

/** Most severe first; anything unrecognised after "low". */
export const SEVERITIES = ['critical', 'high', 'medium', 'moderate', 'low'] as const;

export function severityRank(s: string): number {
  const i = (SEVERITIES as readonly string[]).indexOf(s.toLowerCase());
  return i < 0 ? SEVERITIES.length : i;
}

/**
 * Reads audit findings: a JSON array of {id, severity, package, version, summary}, an object holding such an
 * array as `findings`, or JSON lines (the --json output of a command) whose last record holds `findings`.
 */
export async function readAudit(path: string): Promise<AuditFinding[]> {
  const bad = (why: string) =>
    new UsageError({
      code: 'BAD_FLAG',
      message: `--audit ${path}: ${why}`,
      subject: path,
      hint: 'give the output of "vault-bundle audit --json": a JSON array of {id, severity, package, version, summary}',
    });
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw bad('no such file');
  if (st.size > limits.maxIndexBytes) throw bad(`larger than ${limits.maxIndexBytes} bytes`);
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    const lines = text.split('\n').filter((l) => l.trim());
    try {
      data = JSON.parse(lines.at(-1) ?? '');
    } catch {
      throw bad('not JSON');
    }
  }
  const list = Array.isArray(data) ? data : data && typeof data === 'object' && 'findings' in data ? data.findings : undefined;
  if (!Array.isArray(list)) {
    // package.json, an SBOM, a bundle.json: say what it is not, rather than what zod found missing.
    const what = Array.isArray(data)
      ? 'an array'
      : data === null
        ? 'null'
        : typeof data === 'object'
          ? 'a JSON object without a "findings" array'
          : `a JSON ${typeof data}`;
    throw bad(`not audit findings: ${what}`);
  }
  const parsed = z.array(finding).safeParse(list);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const why =
      i && i.code === 'invalid_type' && /received undefined/.test(i.message)
        ? `missing (a finding needs ${i.expected === 'string' ? 'a string' : i.expected} there)`
        : i?.message;
    throw bad(i ? `${i.path.map(String).join('.') || 'top level'}: ${why}` : 'not a list of findings');
  }
  return parsed.data
    .map((f): AuditFinding => ({
      id: f.id,
      severity: f.severity.toLowerCase(),
      package: f.package,
      ...(f.version !== undefined ? { version: f.version } : {}),
      ...(f.summary !== undefined ? { summary: f.summary } : {}),
    }))
    .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));
}
