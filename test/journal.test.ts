import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendJournal, journalPath, readJournal } from '../src/state/journal.js';
import { tempDir } from './helpers/tmp.js';

describe('install journal', () => {
  it('appends runs and reads them back, skipping torn or hand-edited lines instead of crashing', async () => {
    const dir = await tempDir();
    const entry = { time: '2026-12-01T00:00:00.000Z', bundle: { name: 'b', version: '1.0.0', path: '/media/b' }, dryRun: false };
    expect(await appendJournal(dir, entry)).toBe(journalPath(dir));
    const file = journalPath(dir);
    await writeFile(file, `null\n42\n{"time": 1}\n{"time":"t","dryRun":false,"bundle":{"name":"x"}}\n${JSON.stringify(entry)}\n{"torn`, { flag: 'a' });
    expect(await readJournal(file)).toEqual([entry, entry]);
    expect(await readJournal(join(dir, 'missing.jsonl'))).toEqual([]);
  });
});
