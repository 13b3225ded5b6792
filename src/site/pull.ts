import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SUMS, SUMS_SIG } from '../bundle/layout.js';
import { parseSums } from '../bundle/sums.js';
import type { HashedFile } from '../bundle/verify.js';
import type { Getter } from '../fetch/native-http.js';
import { IntegrityError, UpstreamError, UsageError } from '../util/errors.js';
import type { Reporter } from '../util/events.js';
import { limits } from '../util/limits.js';
import { Appender } from '../util/appender.js';

/** Whether a bundle argument is a served bundle's URL (`vault-bundle serve`, or nginx serving an export). */
export function isServedUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

const sha256File = async (file: string): Promise<string> => {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
};

export interface PulledBundle {
  dir: string;
  /** Every file of it as hashed here (fetched, or found in the cache): verify need not read them again. */
  hashed: Map<string, HashedFile>;
}

/**
 * Fetches a served bundle (`http(s)://host:port/`, its files under `bundle/`) into `cacheDir` as a plain bundle
 * folder and returns it. SHA256SUMS comes first; every file it lists is fetched (resumed with Range from what an
 * interrupted run left in `<file>.part`) and checked against it before it takes its name; a file already there
 * with its hash is kept. The folder is then verify's and install's as any local bundle (the signature with --key).
 */
export async function pullServedBundle(
  url: string,
  cacheDir: string,
  o: { http: Getter; signal: AbortSignal; token?: string; report?: Reporter; concurrency?: number },
): Promise<PulledBundle> {
  const base = url.replace(/\/+$/, '');
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const small = async (path: string, optional: boolean): Promise<Buffer | undefined> => {
    try {
      const r = await o.http.get(`${base}/bundle/${path}`, { signal: o.signal, headers, maxLength: limits.maxIndexBytes, subject: `${base}/bundle/${path}` });
      const chunks: Buffer[] = [];
      for await (const c of r.body) chunks.push(Buffer.from(c));
      return Buffer.concat(chunks);
    } catch (err) {
      if (optional && (err as { cause?: { status?: number } }).cause?.status === 404) return undefined;
      if (optional && /\b404\b/.test((err as Error).message)) return undefined;
      throw new UpstreamError({
        code: 'NETWORK',
        message: `${base}: cannot fetch ${path}: ${(err as Error).message}`,
        subject: base,
        hint: 'is "vault-bundle serve" running there, and is the URL its first line printed?',
        cause: err,
      });
    }
  };
  const sumsBytes = (await small(SUMS, false))!;
  // The signature (if any) comes alongside the blobs, not one more round trip after them.
  const sigBytes = small(SUMS_SIG, true);
  sigBytes.catch(() => undefined);
  let list: Map<string, string>;
  try {
    list = parseSums(sumsBytes.toString('utf8'));
  } catch (err) {
    throw new UsageError({
      code: 'NOT_A_BUNDLE',
      message: `${base}: its ${SUMS} is not a checksum list (${(err as Error).message})`,
      subject: base,
      hint: 'give the URL of a served bundle (the http://host:port/ that serve printed)',
    });
  }
  const dir = join(cacheDir, 'served', createHash('sha256').update(sumsBytes).digest('hex').slice(0, 24));
  await mkdir(dir, { recursive: true });
  let n = 0;
  const hashed = new Map<string, HashedFile>();
  // Several files at once over the client's kept-alive connections (a bundle is many small blobs and a few big).
  const todo = [...list];
  const worker = async (): Promise<void> => {
    for (let next = todo.shift(); next; next = todo.shift()) {
      const [path, hex] = next;
      if (o.signal.aborted) throw o.signal.reason;
      const dest = join(dir, path);
      const had = (await stat(dest).catch(() => undefined)) && (await sha256File(dest)) === hex;
      if (!had) {
        await mkdir(dirname(dest), { recursive: true });
        await fetchChecked(`${base}/bundle/${path}`, dest, hex, { ...o, headers });
        o.report?.({ type: 'info', message: `fetched ${path} (${++n})` });
      }
      const st = await stat(dest);
      hashed.set(path, { hex, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, list.size)) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const sig = await sigBytes;
  if (sig) await writeFile(join(dir, SUMS_SIG), sig);
  else await rm(join(dir, SUMS_SIG), { force: true });
  await writeFile(join(dir, SUMS), sumsBytes);
  return { dir, hashed };
}

/** One file into `<dest>.part` (resuming it), its sha256 checked before it is renamed to `dest`. */
async function fetchChecked(url: string, dest: string, hex: string, o: { http: Getter; signal: AbortSignal; headers: Record<string, string> }): Promise<void> {
  const part = `${dest}.part`;
  const have = (await stat(part).catch(() => undefined))?.size ?? 0;
  const r = await o.http.get(url, { offset: have, signal: o.signal, headers: o.headers, maxLength: limits.maxDownloadBytes, subject: url });
  // The bytes are hashed as they arrive (what a resumed .part already held, first): never read back to check.
  const h = createHash('sha256');
  if (r.startedAt > 0) for await (const c of createReadStream(part, { end: r.startedAt - 1 })) h.update(c as Buffer);
  // Written a batch at a time (one write in flight, the .part always a whole prefix) while the next chunks arrive.
  const fh = await open(part, r.startedAt > 0 ? 'r+' : 'w');
  try {
    const out = new Appender(fh, r.startedAt);
    try {
      for await (const c of r.body) {
        h.update(c);
        await out.append(c);
      }
    } finally {
      // What arrived before a broken connection is kept for the next run to resume from.
      await out.end();
    }
  } finally {
    await fh.close();
  }
  const got = h.digest('hex');
  if (got !== hex) {
    await rm(part, { force: true });
    throw new IntegrityError({
      code: 'DIGEST_MISMATCH',
      message: `${url}: sha256 ${got}, SHA256SUMS lists ${hex}`,
      subject: url,
      expected: hex,
      found: got,
      hint: 'the server sends other bytes than its bundle lists: verify the bundle there, or fetch again',
    });
  }
  await rename(part, dest);
}
