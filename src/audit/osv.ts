import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ZipFile } from '../util/zip.js';
import { UsageError } from '../util/errors.js';
import { walk } from '../util/fs.js';

/**
 * OSV records (https://ossf.github.io/osv-schema/, schema 1.x) as far as the audit reads them. Unknown
 * fields are kept and ignored; a field we read must have its documented type, or the file is refused.
 */
const event = z.looseObject({
  introduced: z.string().optional(),
  fixed: z.string().optional(),
  last_affected: z.string().optional(),
  limit: z.string().optional(),
});

const severityEntry = z.looseObject({ type: z.string(), score: z.string() });

const affected = z.looseObject({
  package: z.looseObject({ ecosystem: z.string(), name: z.string(), purl: z.string().optional() }).optional(),
  severity: z.array(severityEntry).optional(),
  ranges: z.array(z.looseObject({ type: z.string(), repo: z.string().optional(), events: z.array(event) })).optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: z.record(z.string(), z.unknown()).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export const osvRecordSchema = z.looseObject({
  schema_version: z.string().optional(),
  id: z.string().min(1),
  modified: z.string().optional(),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  upstream: z.array(z.string()).optional(),
  related: z.array(z.string()).optional(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(severityEntry).optional(),
  affected: z.array(affected).optional(),
  database_specific: z.record(z.string(), z.unknown()).optional(),
});

export type OsvRecord = z.infer<typeof osvRecordSchema>;
export type OsvAffected = z.infer<typeof affected>;
export type OsvEvent = z.infer<typeof event>;

/** One record and where it came from (a file, or `archive.zip:member`), for messages. */
export interface OsvEntry {
  origin: string;
  record: OsvRecord;
}

/** The largest record file read (the biggest real OSV records, long version lists, are a few MB). */
const MAX_RECORD_BYTES = 32 * 1024 ** 2;

function badOsv(origin: string, why: string, cause?: unknown): UsageError {
  return new UsageError({
    code: 'BAD_OSV',
    message: `--osv ${origin}: ${why}`,
    subject: origin,
    hint: 'give a folder of OSV .json records, the all.zip of an ecosystem from the OSV export (osv-vulnerabilities bucket), or one record file',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Parses one file's text: an OSV record, or a JSON array of records. */
export function parseOsvText(text: string, origin: string): OsvRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw badOsv(origin, `not JSON (${(err as Error).message})`, err);
  }
  const list = Array.isArray(data) ? data : [data];
  return list.map((item, i) => {
    const r = osvRecordSchema.safeParse(item);
    if (!r.success) {
      const issue = r.error.issues[0];
      const where = [...(Array.isArray(data) ? [i] : []), ...(issue?.path ?? [])].join('.');
      throw badOsv(origin, `not an OSV record (${where || 'top level'}: ${issue?.message ?? 'invalid'})`);
    }
    return r.data;
  });
}

/**
 * Every record under `path`: a folder (its .json files, recursively, in byte order), a .zip (its .json
 * members) or a single .json file. A file that is not JSON or not an OSV record stops the audit with
 * BAD_OSV naming it: a damaged export must not pass for a clean one.
 */
export async function* readOsv(path: string): AsyncGenerator<OsvEntry> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw badOsv(path, 'no such file or folder');
  if (st.isDirectory()) {
    const files = (await walk(path)).filter((e) => e.kind === 'file' && e.path.toLowerCase().endsWith('.json'));
    if (files.length === 0) throw badOsv(path, 'the folder holds no .json file');
    for (const f of files) {
      const file = join(path, f.path);
      const size = (await stat(file)).size;
      if (size > MAX_RECORD_BYTES) throw badOsv(file, `larger than ${MAX_RECORD_BYTES} bytes`);
      for (const record of parseOsvText(await readFile(file, 'utf8'), file)) yield { origin: file, record };
    }
    return;
  }
  if (!st.isFile()) throw badOsv(path, 'not a file or folder');
  const head = Buffer.alloc(4);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) === 0x04034b50 || (st.size >= 22 && path.toLowerCase().endsWith('.zip'))) {
    yield* readZip(path);
    return;
  }
  if (st.size > MAX_RECORD_BYTES) throw badOsv(path, `larger than ${MAX_RECORD_BYTES} bytes`);
  for (const record of parseOsvText(await readFile(path, 'utf8'), path)) yield { origin: path, record };
}

/** The .json members of a zip (an OSV export's all.zip), read from its central directory in one pass. */
async function* readZip(file: string): AsyncGenerator<OsvEntry> {
  let zip: ZipFile;
  try {
    zip = await ZipFile.open(file);
  } catch (err) {
    throw badOsv(file, `cannot read it as a zip (${(err as Error).message})`, err);
  }
  try {
    const members = zip.entries.filter((e) => e.name.toLowerCase().endsWith('.json') && !e.name.endsWith('/'));
    if (members.length === 0) throw badOsv(file, 'the zip holds no .json member');
    for (const e of members) {
      const origin = `${file}:${e.name}`;
      let data: Buffer;
      try {
        data = await zip.read(e, MAX_RECORD_BYTES);
      } catch (err) {
        throw badOsv(origin, `cannot be read from the zip (${(err as Error).message})`, err);
      }
      for (const record of parseOsvText(data.toString('utf8'), origin)) yield { origin, record };
    }
  } finally {
    await zip.close();
  }
}
