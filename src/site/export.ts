import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { LoadedBundle } from '../bundle/load.js';
import type { Segment } from '../bundle/hashpool.js';
import { LocalError, errnoCode, localWriteError } from '../util/errors.js';
import { tempDone, tempSibling } from '../util/fs.js';
import { sitePlan } from './build.js';
import { nginxConf, siteConf } from './nginx.js';
import type { SiteEntry, SitePlan } from './plan.js';

export interface ExportResult {
  dir: string;
  plan: SitePlan;
  files: number;
  /** Files hard-linked to the bundle's own (no bytes copied), and files copied (another filesystem, a tar, parts). */
  linked: number;
  copied: number;
  bytesCopied: number;
}

/**
 * Writes the site of a verified bundle into `dir` (which must not exist, or be empty): every bundle file
 * hard-linked where the filesystem allows it (a folder bundle on the same filesystem), else copied (another
 * filesystem, FAT32, a tar, a split bundle's parts), the made pages and answers written, then `site.conf` and
 * `nginx.conf`. It is built in a temp folder beside `dir` and renamed into place: no half site is ever served.
 */
export async function exportSite(b: LoadedBundle, dir: string, o: { listen?: string; signal?: AbortSignal } = {}): Promise<ExportResult> {
  const out = resolve(dir);
  const st = await stat(out).catch(() => undefined);
  if (st) {
    throw new LocalError({
      code: 'OUTPUT_EXISTS',
      message: `${dir} already exists`,
      subject: dir,
      hint: 'give a new folder for the site (nginx can be pointed at it), or remove the old one first',
    });
  }
  const plan = await sitePlan(b);
  const tmp = tempSibling(out);
  const r: ExportResult = { dir: out, plan, files: 0, linked: 0, copied: 0, bytesCopied: 0 };
  try {
    await mkdir(tmp, { recursive: true });
    const made = new Set<string>();
    for (const e of plan.entries) {
      if (o.signal?.aborted) throw o.signal.reason;
      await writeEntry(b, e, tmp, made, r);
    }
    for (const [key, files] of plan.pathsInfo) {
      for (const [path, info] of files) {
        const f = join(tmp, 'hf/api', key.replace(/\/([^/]+)$/, '/paths-info/$1'), path, 'index.json');
        await mkdirOnce(dirname(f), made);
        await writeFile(f, JSON.stringify([info]));
      }
    }
    await writeFile(join(tmp, 'site.conf'), siteConf(plan, { root: out, listen: o.listen ?? '80' }));
    await writeFile(join(tmp, 'nginx.conf'), nginxConf({ siteConf: join(out, 'site.conf') }));
    await rename(tmp, out);
    tempDone(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    tempDone(tmp);
    throw err instanceof Error && 'code' in err && typeof (err as { exitCode?: unknown }).exitCode === 'number' ? err : localWriteError(err, dir);
  }
  return r;
}

async function mkdirOnce(d: string, made: Set<string>): Promise<void> {
  if (made.has(d)) return;
  await mkdir(d, { recursive: true });
  made.add(d);
}

async function writeEntry(b: LoadedBundle, e: SiteEntry, root: string, made: Set<string>, r: ExportResult): Promise<void> {
  const dest = join(root, e.file);
  await mkdirOnce(dirname(dest), made);
  r.files++;
  if ('text' in e.source) {
    await writeFile(dest, e.source.text);
    return;
  }
  const segs = b.reader.entries.get(e.source.bundle)!.job.segments;
  const whole = b.reader.form !== 'tar' && segs.length === 1 && segs[0]!.offset === 0 && (await stat(segs[0]!.file)).size === e.size;
  if (whole) {
    try {
      await link(segs[0]!.file, dest);
      r.linked++;
      return;
    } catch (err) {
      // Another filesystem (EXDEV) or one without hard links (FAT32, exFAT: EPERM): a copy.
      if (!['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK', 'EOPNOTSUPP'].includes(errnoCode(err) ?? '')) throw err;
    }
    await copyFile(segs[0]!.file, dest);
  } else {
    await copySegments(segs, dest);
  }
  r.copied++;
  r.bytesCopied += e.size;
}

/** Bytes of a tar member or of one spread over parts, into one file. */
async function copySegments(segs: readonly Segment[], dest: string): Promise<void> {
  const w = createWriteStream(dest, { flags: 'wx' });
  segs = segs.filter((s) => s.length > 0);
  for (const [i, s] of segs.entries()) {
    const rs = createReadStream(s.file, { start: s.offset, end: s.offset + s.length - 1 });
    await pipeline(rs, w, { end: i === segs.length - 1 });
  }
  if (segs.length === 0) await new Promise<void>((ok, fail) => w.end((err?: Error | null) => (err ? fail(err) : ok())));
}
