import type { PartThreadData } from './part-worker.js';
import { RAW_GET_JS } from './raw-get.js';

/**
 * What a single-stream download thread runs (issue #14: the build's main thread spent ~7 s of a cold
 * nvidia-debian12 build parsing HTTP, hashing and writing 2.7 GB of debs). One job: GET a whole file over
 * node:http(s) (from `have` on, with a Range, when a partial file holds its first bytes), hash every byte as it
 * streams in (those already in the partial file first, read back) and write them at their offsets into the
 * partial file, which the main thread has claimed for this process (store/partial-lock.ts), then fsync it and
 * say its size and sha256. As store/writer.ts does on the main thread, a file of DIRECT_MIN_BYTES or more is
 * written with O_DIRECT from page-aligned buffers (WebAssembly memory): through the page cache, the 2.7 GB of a
 * cold build cost ~5 s more of system CPU (page allocation, copies, the fsync's writeback) than the threads saved. The main thread checks them and lands the blob with its proof as it does its own
 * puts (Store.put's `onThread`).
 *
 * The thread does the happy path only: a 200 (or a 206 that starts at `have`). Anything else (another status,
 * too many redirects, an error it does not know to be transient) ends the job with `fallback` before a byte is
 * written, or with what arrived written in order, and the main thread runs the attempt with the source's own
 * opener, whose errors and hints are the ones users know. Messages of one job arrive in order: every `wrote`
 * before the job's end.
 */

/** Main → thread: fetch `url` into the file at `path`, whose first `have` bytes are already the blob's. */
export interface StreamJob {
  type: 'get';
  id: number;
  url: string;
  headers: Record<string, string>;
  path: string;
  have: number;
  /** The locked size: a body that goes past it ends the job with `over`. */
  size: number;
  /** A second file that gets the same bytes (store/tee.ts; a fresh job only): its end says `teeWhole`. */
  tee?: string;
}

/** What a stream thread is given once (its workerData): part-worker.ts's limits and when to write with O_DIRECT. */
export interface StreamThreadData extends PartThreadData {
  /** Files with at least this many bytes to come are written with O_DIRECT (store/writer.ts DIRECT_MIN_BYTES). */
  directMinBytes: number;
}

export const STREAM_WORKER_JS = `${RAW_GET_JS}
const { parentPort, workerData: L } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, write, ftruncateSync, fsync, closeSync, constants: C } = require('node:fs');
const TRANSIENT = new Set(L.transient);
const SLOT = L.writeBytes, ALIGN = 4096;
const jobs = new Map();
// Page-aligned write buffers (WebAssembly memory is mapped on its own pages), 16 to a slab, reused by the jobs.
const pool = [], aligned = new WeakSet();
let alignedOk = typeof WebAssembly === 'object' && C.O_DIRECT !== undefined;
const takeSlot = () => {
  if (pool.length === 0 && alignedOk) {
    try {
      const mem = new WebAssembly.Memory({ initial: (16 * SLOT) >> 16, maximum: (16 * SLOT) >> 16 });
      for (let i = 0; i < 16; i++) { const b = Buffer.from(mem.buffer, i * SLOT, SLOT); aligned.add(b); pool.push(b); }
    } catch { alignedOk = false; }
  }
  return pool.pop() || Buffer.allocUnsafeSlow(SLOT);
};

parentPort.on('message', (m) => {
  if (m.type === 'abort') { const j = jobs.get(m.id); if (j) j.abort(); }
  else if (m.type === 'get') start(m);
});

function hashPrefix(path, have, hash) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(have, 1 << 20));
    for (let at = 0; at < have; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, have - at), at);
      if (n <= 0) throw Object.assign(new Error('partial file shorter than it was'), { code: 'EIO' });
      hash.update(n === buf.length ? buf : buf.subarray(0, n));
      at += n;
    }
  } finally { closeSync(fd); }
}

function openOut(m, direct) {
  const flags = C.O_WRONLY | C.O_CREAT | (m.have === 0 ? C.O_TRUNC : 0);
  if (direct) {
    try { return { fd: openSync(m.path, flags | C.O_DIRECT, 0o644), direct: true }; } catch (e) { if (e.code !== 'EINVAL') throw e; }
  }
  return { fd: openSync(m.path, flags, 0o644), direct: false };
}

function start(m) {
  const hash = createHash('sha256');
  const slots = [takeSlot(), takeSlot()];
  let spare;
  const giveBack = () => { for (const b of spare ? [...slots, spare] : slots) if (aligned.has(b)) pool.push(b); };
  let out, teeFd, teeOpened = false;
  try {
    if (m.have > 0) hashPrefix(m.path, m.have, hash);
    out = openOut(m, aligned.has(slots[0]) && aligned.has(slots[1]) && m.size - m.have >= L.directMinBytes && m.have % ALIGN === 0);
    if (m.tee && m.have === 0) { try { teeFd = openSync(m.tee, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o644); teeOpened = true; } catch {} }
  } catch (e) {
    giveBack();
    parentPort.postMessage({ id: m.id, end: 'local', code: e.code, message: String(e.message) });
    return;
  }
  // Two buffers, as store/writer.ts: one fills while the other is written (one write at a time, in file order, so
  // the file is always a prefix of the blob). pos: the file's end once the writes submitted are done.
  let cur = 0, fill = 0, pos = m.have, skip = 0, done = false, conn;
  let busy = false, failure, stash, ending, received = m.have;
  const job = { abort() { if (!done) finish('aborted'); } };
  // The second copy gets the bytes each write put in the file, through the page cache; a failed write drops it
  // (the blob is then copied out of the cache) and the download goes on.
  const dropTee = () => { if (teeFd !== undefined) { try { closeSync(teeFd); } catch {} teeFd = undefined; } };
  const teeOut = (b, len, at, next) => {
    if (teeFd === undefined) return next();
    const more = (off) => write(teeFd, b, off, len - off, at + off, (e, n) => {
      if (e || n <= 0) { dropTee(); return next(); }
      if (off + n < len) return more(off + n);
      next();
    });
    more(0);
  };
  jobs.set(m.id, job);
  // Writes slot i's len bytes at pos (padded to a sector for O_DIRECT, the file then cut to the bytes); then next().
  const submit = (i, len, next, tee) => {
    const b = slots[i], at = pos;
    const padded = out.direct ? Math.ceil(len / ALIGN) * ALIGN : len;
    if (padded !== len) b.fill(0, len, padded);
    pos += len;
    busy = true;
    // The second copy's write runs alongside this one (bytes [0, len): the padding is not its), once, also when
    // this one is redone through the page cache; the slot is free when both are done.
    if (!tee) {
      tee = { done: false, then: undefined };
      teeOut(b, len, at, () => { tee.done = true; if (tee.then) tee.then(); });
    }
    const written = (e) => {
      if (!tee.done) { tee.then = () => written(e); return; }
      busy = false;
      if (e) {
        failure = failure || e;
        try { ftruncateSync(out.fd, at); } catch {} // the file stays a prefix of the blob: what was written before
      } else {
        if (padded !== len) { try { ftruncateSync(out.fd, at + len); } catch (t) { failure = failure || t; } }
        if (!failure) parentPort.postMessage({ id: m.id, wrote: len });
      }
      next();
    };
    const go = (off) => write(out.fd, b, off, padded - off, at + off, (e, n) => {
      if (e && out.direct && e.code === 'EINVAL') {
        // The file system took O_DIRECT at open but refuses these writes: on through the page cache.
        try { closeSync(out.fd); out = { fd: openSync(m.path, C.O_WRONLY), direct: false }; } catch (r) { return written(r); }
        pos = at; busy = false;
        return submit(i, len, next, tee);
      }
      if (e || n <= 0) return written(e || Object.assign(new Error('short write'), { code: 'EIO' }));
      if (off + n < padded) return go(off + n);
      written();
    });
    go(0);
  };
  // Copies a chunk in; a full buffer is written while the other fills; with both busy, the body waits.
  const put = (c) => {
    for (let off = 0; off < c.length; ) {
      const n = Math.min(c.length - off, SLOT - fill);
      c.copy(slots[cur], fill, off, off + n);
      fill += n; off += n;
      if (fill < SLOT) continue;
      if (busy) {
        // Both buffers are taken: the rest of the read (the read buffer is the next read's) waits in a third.
        spare = spare || takeSlot();
        stash = spare.subarray(0, c.copy(spare, 0, off));
        return false;
      }
      submit(cur, SLOT, drained);
      cur ^= 1; fill = 0;
    }
  };
  const drained = () => {
    if (stash && !failure) {
      const rest = stash;
      stash = undefined;
      submit(cur, SLOT, drained);
      cur ^= 1; fill = 0;
      put(rest);
      if (!stash && !ending) conn.resume();
    } else if (ending || failure) finish(ending ? ending.end : 'local', ending ? ending.err : failure);
  };
  // The end: what arrived is on disk (and fsynced when whole) before it is told, so a retry (or a rerun) goes on
  // after it; wrong bytes (over) are the main thread's to drop. A write still running finishes first (drained).
  const finish = (end, err) => {
    if (done) return;
    if (!ending) {
      ending = { end, err };
      if (conn) conn.destroy();
    }
    if (busy) return;
    done = true;
    jobs.delete(m.id);
    const close = (how, e) => {
      try { closeSync(out.fd); } catch {}
      let teeWhole = teeOpened && teeFd !== undefined;
      if (teeFd !== undefined) { try { closeSync(teeFd); } catch { teeWhole = false; } }
      giveBack();
      const msg = { id: m.id, end: how, code: e && e.code, message: e ? String(e.message || e) : undefined };
      if (how === 'done') { msg.size = pos; msg.digest = hash.digest('hex'); msg.teeWhole = teeWhole; }
      parentPort.postMessage(msg);
    };
    const afterTail = () => {
      if (failure) return close('local', failure);
      if (ending.end !== 'done') return close(ending.end, ending.err);
      fsync(out.fd, (e) => (e ? close('local', e) : close('done')));
    };
    const tail = fill;
    fill = 0;
    if (tail > 0 && !failure) submit(cur, tail, afterTail);
    else afterTail();
  };
  const failed = (e) => finish(TRANSIENT.has(e && e.code) ? 'net' : 'fallback', e);
  const take = (c) => {
    if (skip > 0) {
      if (c.length <= skip) { skip -= c.length; return; }
      c = c.subarray(skip); skip = 0;
    }
    if (received + c.length > m.size) return finish('over');
    received += c.length;
    hash.update(c);
    return put(c);
  };
  const get = (url, headers, hops) => {
    const u = new URL(url);
    if (u.protocol !== 'http:') return finish('fallback'); // a redirect to https: the main thread's client (undici)
    conn = rawGet(u, headers, L, {
      head(st, h) {
        if (done || ending) return false;
        if (REDIRECTS.has(st) && h.location) {
          if (hops >= L.maxRedirections) return finish('fallback'), false;
          const next = nextHop(h.location, url, headers);
          get(next.href, next.headers, hops + 1);
          return false;
        }
        const from = rangeStart(h['content-range']);
        if (st === 200) skip = m.have; // the server sent the whole file: drop what the partial file holds already
        else if (!(st === 206 && m.have > 0 && from === m.have)) return finish('fallback'), false;
        if (Number(h['content-length']) - skip > m.size - m.have) return finish('over'), false;
        return true;
      },
      data: (c) => (done || ending ? true : take(c)),
      end: () => finish('done'),
      error: failed,
    });
  };
  get(m.url, { 'user-agent': 'vault-bundle', ...m.headers, ...(m.have > 0 ? { range: 'bytes=' + m.have + '-' } : {}) }, 0);
}
`;
