import { constants } from 'node:fs';
import { access, appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalError, errnoCode, localWriteError } from '../util/errors.js';

/** One run of `vault-bundle install`, as journal.jsonl records it (a line each; the file only grows). */
export interface JournalEntry {
  time: string;
  bundle: { name: string; version: string; path: string };
  /** A delta's base, as found for that run. */
  base?: { name: string; version: string; path?: string };
  /** Always false in what install writes now (a dry run writes nothing); true in journals of older versions. */
  dryRun: boolean;
  signer?: string;
  /** How the bundle's origin was judged: signed (by `signer`), or unsigned (integrity checked, origin not). Absent in older journals. */
  signature?: 'signed' | 'unsigned';
  /**
   * false: the run stopped partway (a tool failed, the disk filled, Ctrl-C) after `results` were done and
   * before `failedAt` finished, so the box holds part of the bundle. Absent in journals of older versions.
   */
  ok?: boolean;
  /** The kind that was installing when the run stopped. */
  failedAt?: string;
  error?: { code: string; message: string };
  /** What did not match the bundle's target when --ignore-target installed it anyway. */
  ignoredTarget?: string[];
}

/**
 * Whether the entry is a bundle this box has installed, completely: what the rollback check, a delta's base
 * lookup and probe count. A dry run or a run that stopped partway is not.
 */
export function isInstalled(e: JournalEntry): boolean {
  return !e.dryRun && e.ok !== false;
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

/**
 * Makes sure the journal can be appended to, before a real install changes anything: a state folder that
 * cannot be written (a file, a read-only filesystem) used to fail only at the end, after all the work, leaving
 * no record of it. A dry run (`create: false`) writes nothing: it only looks, from the nearest existing folder.
 */
export async function checkJournalWritable(stateDir: string, create: boolean): Promise<void> {
  const file = journalPath(stateDir);
  const fail = (why: string, cause?: unknown) =>
    new LocalError({
      code: 'WRITE_FAILED',
      message: `cannot keep the install journal ${file}: ${why}`,
      subject: stateDir,
      hint: `give --state-dir a folder this user can write (default: ${defaultStateDir()}); nothing was changed on the box`,
      cause,
    });
  if (create) {
    try {
      await mkdir(stateDir, { recursive: true });
      await appendFile(file, '');
    } catch (err) {
      throw fail(err instanceof Error ? err.message : String(err), err);
    }
    return;
  }
  const st = await stat(file).catch(() => undefined);
  if (st && !st.isFile()) throw fail(`${file} is not a file`);
  let dir = stateDir;
  for (;;) {
    const d = await stat(dir).catch(() => undefined);
    if (d) {
      if (!d.isDirectory()) throw fail(`${dir} is not a folder`);
      const denied = await access(st ? file : dir, constants.W_OK).then(
        () => undefined,
        (err: Error) => err,
      );
      if (denied) throw fail(`${st ? file : dir} cannot be written (${errnoCode(denied) ?? String(denied)})`, denied);
      return;
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
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
