import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { localWriteError } from '../util/errors.js';

/** One run of `vault-bundle install`, as journal.jsonl records it (a line each; the file only grows). */
export interface JournalEntry {
  time: string;
  bundle: { name: string; version: string; path: string };
  /** A delta's base, as found for that run. */
  base?: { name: string; version: string; path?: string };
  dryRun: boolean;
  signer?: string;
}

/** Where install keeps its journal: /var/lib/vault-bundle as root, else ~/.local/state/vault-bundle. */
export function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/vault-bundle' : join(homedir(), '.local', 'state', 'vault-bundle');
}

export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.jsonl');
}

/**
 * The journal's entries, oldest first. A torn or hand-edited line (not JSON, not an object, fields of the wrong
 * type) is skipped: the journal informs rollback checks and probes, it must never crash them.
 */
export async function readJournal(file: string): Promise<JournalEntry[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (!e || typeof e !== 'object') continue;
    const { time, bundle, dryRun } = e as Partial<JournalEntry>;
    if (typeof time !== 'string' || typeof dryRun !== 'boolean' || !bundle || typeof bundle !== 'object') continue;
    if (typeof bundle.name !== 'string' || typeof bundle.version !== 'string' || typeof bundle.path !== 'string') continue;
    out.push(e as JournalEntry);
  }
  return out;
}

export async function appendJournal(stateDir: string, entry: JournalEntry & Record<string, unknown>): Promise<string> {
  const file = journalPath(stateDir);
  try {
    await mkdir(stateDir, { recursive: true });
    await appendFile(file, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    throw localWriteError(err, file);
  }
  return file;
}
