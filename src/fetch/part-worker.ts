import { RAW_GET_JS } from './raw-get.js';

/**
 * What a ranged-download thread runs (issue #16): GET one byte range over node:http(s) and write its bytes straight
 * into the partial file at their offsets (pwrite), telling the main thread each write. Plain JS in a string, as
 * util/hash-worker.ts's loop, so that it runs the same from tsx, from dist/ and from the one bundled script.
 *
 * The thread does the happy path only: a 206 that starts where it was asked. Anything else (another status, an
 * unusable Content-Range, too many redirects, an error it does not know to be transient) ends the job with
 * `fallback`, and the main thread runs that attempt with the source's own opener, whose errors and hints are the
 * ones users know. A connection that breaks, stalls past a timeout or ends early ends with `net`/`short`: the main
 * thread retries it (on the thread again) as it retries its own. Messages of one job arrive in order: every
 * `wrote` (bytes on disk) before the job's `end`.
 */

/** Main → thread: fetch [from, end) of `url` into the file at `path` (already created at its full size). */
export interface PartJob {
  type: 'get';
  id: number;
  url: string;
  headers: Record<string, string>;
  path: string;
  from: number;
  end: number;
}

/**
 * How a job ended: done; the main thread should do it (`fallback`); a transient failure; a write failure; aborted;
 * (a whole-file job of stream-worker.ts) more bytes than the locked size.
 */
export type PartEnd = 'done' | 'fallback' | 'net' | 'short' | 'local' | 'aborted' | 'over';

/** How a job ended, with the error's code and message; a whole-file job's `done` says the file's size and sha256 (hex). */
export interface PartResult {
  end: PartEnd;
  code?: string;
  message?: string;
  size?: number;
  digest?: string;
  /** A stream job's second copy (its `tee`) holds every byte (stream-worker.ts). */
  teeWhole?: boolean;
}

/** Thread → main: bytes written at the job's next offset, or the job's end. */
export type PartMessage = { id: number; wrote: number } | ({ id: number } & PartResult);

/** The limits a thread applies to its requests (those of util/limits.ts), given once as its workerData. */
export interface PartThreadData {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxRedirections: number;
  /** Bytes gathered (copied into one buffer a job) before one positional write. */
  writeBytes: number;
  /** Error codes that are worth a retry (http-common.ts's list). */
  transient: string[];
}

/** A thread's young collection every so many bytes written, and every so many of them a full one (util/gc.ts's figures). */
const GC_EVERY_BYTES = 2 * 1024 * 1024;
const GC_FULL_EVERY = 64;

export const PART_WORKER_JS = `${RAW_GET_JS}
const { parentPort, workerData: L } = require('node:worker_threads');
const https = require('node:https');
const { openSync, writeSync, closeSync } = require('node:fs');
const agents = { 'https:': new https.Agent({ keepAlive: true }) };
const TRANSIENT = new Set(L.transient);
const jobs = new Map();
// Write buffers of finished jobs, for the next: each lives as long as its job, long enough to be promoted, and a
// buffer a job left ~30 MB of them a thread for the next full collection. Every one is kept, so a thread never
// holds more than its most jobs at once: with a cap (8 were kept), each time its jobs all ended together before
// the next ones came (parts paced alike end alike, the main thread journals each before it hands out the next)
// the rest were dropped and as many made again for the next wave, 8 MB of garbage a wave that a collection (none
// comes by itself here) freed only at the 64 MB external-memory limit: +8 MiB a wave, measured.
const spare = [];
// For https (node:https), as util/gc.ts does on the main thread: each socket read is a Buffer whose bytes live
// outside this thread's heap, freed only when a collection runs, which a download loop (next to no heap allocation)
// leaves to the external-memory limit, 64 MB per thread (node:http's 60-70 MB of dead buffers a thread took a
// 4-thread build to 278 MiB). A young collection every 2 MiB written, a full one every 64th. Plain http reads raw.
let collect = null;
try { require('node:v8').setFlagsFromString('--expose-gc'); collect = require('node:vm').runInNewContext('gc'); } catch {}
let passed = 0, minors = 0;
const passedThrough = (n) => {
  passed += n;
  if (passed < ${GC_EVERY_BYTES} || !collect) return;
  passed = 0;
  if (++minors < ${GC_FULL_EVERY}) return collect({ type: 'minor' });
  minors = 0;
  collect();
};

parentPort.on('message', (m) => {
  if (m.type === 'abort') { const j = jobs.get(m.id); if (j) j.abort(); }
  else if (m.type === 'get') start(m);
  else if (m.type === 'close') { agents['https:'].destroy(); for (const p of idleSockets.values()) for (const k of p) k.destroy(); parentPort.close(); }
});

function start(m) {
  let fd;
  try { fd = openSync(m.path, 'r+'); } catch (e) { parentPort.postMessage({ id: m.id, end: 'local', code: e.code, message: String(e.message) }); return; }
  // Bytes are copied into one buffer a job and written from it: socket chunks kept until a gathered write
  // survived the young collections (two with many parts at once) and were promoted, to be freed only by a full
  // one (50-60 MB of them a thread in a build). A copy of 64 KiB is a few microseconds.
  const buf = spare.pop() || Buffer.allocUnsafeSlow(L.writeBytes);
  let pos = m.from, fill = 0, done = false, req, res, conn;
  const job = { abort() { if (!done) finish('aborted'); } };
  jobs.set(m.id, job);
  const write = () => {
    for (let at = 0; at < fill; ) {
      const n = writeSync(fd, buf, at, fill - at, pos + at);
      if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
      at += n;
    }
    const wrote = fill;
    pos += wrote; fill = 0;
    parentPort.postMessage({ id: m.id, wrote });
    if (!conn) passedThrough(wrote); // node:https's Buffers; a raw read leaves none
  };
  const finish = (end, err) => {
    if (done) return;
    done = true;
    jobs.delete(m.id);
    if (conn) conn.destroy(); else if (res && !res.complete) res.destroy(); else if (req && !res) req.destroy();
    // What arrived is on disk before the end is told, so a retry (or a rerun) goes on after it.
    if (fill > 0) { try { write(); } catch (e) { end = 'local'; err = e; } }
    try { closeSync(fd); } catch {}
    spare.push(buf);
    if (end === 'done' && pos < m.end) end = 'short';
    parentPort.postMessage({ id: m.id, end, code: err && err.code, message: err ? String(err.message || err) : undefined });
  };
  const failed = (e) => finish(TRANSIENT.has(e && e.code) ? 'net' : 'fallback', e);
  // The bytes of [from, end) at pos: copied out at once (a raw read's buffer is the thread's, reused by the next read).
  const take = (c) => {
    if (done) return true;
    for (let off = 0, left = Math.min(c.length, m.end - pos - fill); left > 0; ) {
      const n = Math.min(left, buf.length - fill);
      c.copy(buf, fill, off, off + n);
      fill += n; off += n; left -= n;
      if (fill === buf.length || pos + fill === m.end) {
        try { write(); } catch (e) { finish('local', e); return true; }
      }
    }
    // The rest of an over-long body is not taken (a server that ignores the end of a Range).
    if (pos === m.end) setImmediate(() => finish('done'));
    return true;
  };
  const redirect = (url, headers, hops, location) => {
    if (hops >= L.maxRedirections) return finish('fallback');
    const next = nextHop(location, url, headers);
    get(next.href, next.headers, hops + 1);
  };
  const ranged = (st, contentRange) => st === 206 && rangeStart(contentRange) === m.from;
  // Plain http: raw-get.ts's client, reading every socket into the thread's one buffer (node:http's Buffer a read
  // left 10-35 MB of promoted chunks a thread, measured in a build); https: node:https.
  const getRaw = (u, url, headers, hops) => {
    conn = rawGet(u, headers, L, {
      head(st, h) {
        if (done) return false;
        if (REDIRECTS.has(st) && h.location) return redirect(url, headers, hops, h.location), false;
        if (!ranged(st, h['content-range'])) return finish('fallback'), false;
        return true;
      },
      data: take,
      end: () => finish('done'),
      error: failed,
    });
  };
  const get = (url, headers, hops) => {
    const u = new URL(url);
    conn = undefined;
    if (u.protocol === 'http:') return getRaw(u, url, headers, hops);
    const mod = u.protocol === 'https:' ? https : undefined;
    if (!mod) return finish('fallback');
    let phase = 'CONNECT';
    req = mod.request(u, { method: 'GET', headers, agent: agents[u.protocol] });
    req.setTimeout(L.connectTimeoutMs);
    req.on('timeout', () => {
      const e = Object.assign(new Error(phase.toLowerCase() + ' timeout'), { code: 'UND_ERR_' + phase + '_TIMEOUT' });
      if (res) res.destroy(e); else req.destroy(e);
    });
    req.on('socket', (s) => {
      const sent = () => { phase = 'HEADERS'; req.setTimeout(L.headersTimeoutMs); };
      if (s.connecting) s.once('connect', sent); else sent();
    });
    req.on('error', failed);
    req.on('response', (r) => {
      if (done) return r.destroy();
      const st = r.statusCode;
      if (REDIRECTS.has(st) && r.headers.location) {
        r.resume();
        req.removeListener('error', failed).on('error', () => {}); // this request is done with: its errors are not the next one's
        return redirect(url, headers, hops, r.headers.location);
      }
      if (!ranged(st, r.headers['content-range'])) { r.destroy(); return finish('fallback'); }
      res = r;
      phase = 'BODY';
      req.setTimeout(L.bodyTimeoutMs);
      r.on('data', take);
      r.on('end', () => finish('done'));
      r.on('error', failed);
      r.on('close', () => finish('done'));
    });
    req.end();
  };
  get(m.url, { 'user-agent': 'vault-bundle', ...m.headers, range: 'bytes=' + m.from + '-' + (m.end - 1) }, 0);
}
`;
