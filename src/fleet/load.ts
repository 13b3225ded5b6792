import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SmokeReport } from '../checks/report.js';
import { type JournalEntry, isInstalled, readJournal } from '../state/journal.js';
import { UsageError } from '../util/errors.js';

/** What the Ansible role (or bench/box/fleet-role.sh) writes per box beside the fetched files. */
export const ROLLOUT_SCHEMA = 'vault-bundle/fleet-rollout/v1';

export type StepName = 'copy' | 'verify' | 'install' | 'smoke';

export interface RolloutStep {
  step: StepName;
  /** Exit code of the step's command (absent for a step that was not run). */
  rc?: number;
  ok: boolean;
  changed?: boolean;
  /** The error line or summary of the step (stderr's error:/hint: lines when it failed). */
  message?: string;
}

/** rollout.json: one box's rollout as the role recorded it. */
export interface Rollout {
  schema: typeof ROLLOUT_SCHEMA;
  host: string;
  finished?: string;
  checkMode?: boolean;
  bundle?: { name?: string; version?: string; digest?: string };
  steps: RolloutStep[];
}

/** The box's image-version stamp (what install wrote in /etc/vault-ai/image-version.json), as smoke or probe reported it. */
export interface ImageStamp {
  version: string;
  previous?: string;
  bundle?: string;
  installedAt?: string;
  via?: string;
}

/** The stamp's fields the fleet shows, from smoke's results.json (imageVersion) or a probe's box.json (imageVersion.stamp). */
export function imageStampOf(raw: unknown): ImageStamp | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const str = (k: string) => {
    const v = o[k];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const version = str('version');
  if (!version) return undefined;
  const [previous, bundle, installedAt, via] = [str('previous_version'), str('bundle'), str('installed_at'), str('via')];
  return { version, ...(previous ? { previous } : {}), ...(bundle ? { bundle } : {}), ...(installedAt ? { installedAt } : {}), ...(via ? { via } : {}) };
}

/** Everything fetched from one box: results/<inventory_hostname>/. */
export interface BoxFiles {
  host: string;
  dir?: string;
  rollout?: Rollout;
  smoke?: SmokeReport;
  /** The last real install in the box's journal. */
  installed?: JournalEntry;
  hasJunit: boolean;
  /** The box's image-version stamp (results.json, else box.json). */
  imageVersion?: ImageStamp;
  /** Highest temp_c per GPU in thermal.csv (when results.json has no gpu.thermal metrics). */
  thermalMaxC?: number;
  /** Files that were there but could not be read as what they should be. */
  unreadable: string[];
}

const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

async function readJson<T>(path: string, unreadable: string[], name: string): Promise<T | undefined> {
  if (!(await isFile(path))) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    unreadable.push(name);
    return undefined;
  }
}

/** The highest temp_c in a thermal.csv (header names the column); undefined when none parses. */
export function thermalMax(csv: string): number | undefined {
  const [head, ...rows] = csv.split(/\r?\n/).filter((l) => l.trim());
  const col = head?.split(',').indexOf('temp_c') ?? -1;
  if (col < 0) return undefined;
  let max: number | undefined;
  for (const r of rows) {
    const v = Number(r.split(',')[col]);
    if (Number.isFinite(v) && (max === undefined || v > max)) max = v;
  }
  return max;
}

/** Reads one box's folder; never throws for a missing or damaged file (the box is shown as such). */
export async function loadBox(host: string, dir: string): Promise<BoxFiles> {
  const unreadable: string[] = [];
  const rollout = await readJson<Rollout>(join(dir, 'rollout.json'), unreadable, 'rollout.json');
  const smoke = await readJson<SmokeReport>(join(dir, 'results.json'), unreadable, 'results.json');
  const box: BoxFiles = { host, dir, hasJunit: await isFile(join(dir, 'junit.xml')), unreadable };
  if (rollout && rollout.schema === ROLLOUT_SCHEMA && Array.isArray(rollout.steps)) box.rollout = rollout;
  else if (rollout) unreadable.push('rollout.json');
  if (smoke && Array.isArray(smoke.checks)) box.smoke = smoke;
  else if (smoke) unreadable.push('results.json');
  const probe = await readJson<{ imageVersion?: { present?: boolean; stamp?: unknown } }>(join(dir, 'box.json'), unreadable, 'box.json');
  const stamp = imageStampOf(box.smoke?.imageVersion) ?? imageStampOf(probe?.imageVersion?.present ? probe.imageVersion.stamp : undefined);
  if (stamp) box.imageVersion = stamp;
  if (await isFile(join(dir, 'journal.jsonl'))) {
    const entries = await readJournal(join(dir, 'journal.jsonl')).catch(() => {
      unreadable.push('journal.jsonl');
      return [];
    });
    const last = entries.filter(isInstalled).at(-1);
    if (last) box.installed = last;
  }
  if (await isFile(join(dir, 'thermal.csv'))) {
    const t = thermalMax(await readFile(join(dir, 'thermal.csv'), 'utf8'));
    if (t !== undefined) box.thermalMaxC = t;
  }
  return box;
}

/**
 * Host names from an expected-hosts file: one per line, or an Ansible INI inventory ([groups], `host key=value`,
 * comments); `[x:vars]` and `[x:children]` sections are not hosts.
 */
export function parseExpected(text: string): string[] {
  const hosts: string[] = [];
  let skip = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    if (line.startsWith('[')) {
      skip = /:(vars|children)\]$/.test(line);
      continue;
    }
    const host = line.split(/\s+/)[0]!;
    if (!skip && !hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}

/**
 * Every box of a results folder (a subfolder per host; dot-folders such as the role's .packs are not boxes), plus the expected hosts that left nothing: those are
 * boxes that did not report. The folder's own expected-hosts.txt (the playbook writes it) counts as expected.
 */
export async function loadFleet(resultsDir: string, expected: readonly string[] = []): Promise<BoxFiles[]> {
  const entries = await readdir(resultsDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError({
      code: 'BAD_FLAG',
      message: `${resultsDir}: cannot read the results folder (${err.code ?? err.message})`,
      subject: resultsDir,
      hint: 'give the folder the playbook fetched into (results/, with a folder per inventory host)',
    });
  });
  const own = await readFile(join(resultsDir, 'expected-hosts.txt'), 'utf8').then(parseExpected, () => []);
  const boxes = new Map<string, BoxFiles>();
  for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
    boxes.set(e.name, await loadBox(e.name, join(resultsDir, e.name)));
  }
  for (const h of [...own, ...expected]) if (!boxes.has(h)) boxes.set(h, { host: h, hasJunit: false, unreadable: [] });
  return [...boxes.values()].sort((a, b) => a.host.localeCompare(b.host, 'en', { numeric: true }));
}
