/**
 * A plain-http GET for the download threads (stream-worker.ts, part-worker.ts), on a bare net.Socket that reads into one buffer
 * of the thread's own (`onread`): node:http hands out a fresh malloc'd Buffer for every socket read, and in a
 * thread those (2.7 GB of debs in 64 KiB reads) cost ~10-15 MB of peak RSS in the thread's malloc arena and
 * their collections (issue #14: a build's peak must stay under 150 MB). Every read here is handled before the
 * next one (hashed and copied into the write buffers), so one buffer serves every socket of the thread.
 *
 * It does the happy path only: an HTTP/1.x answer with a Content-Length (no chunked body), headers under 64 KiB.
 * Anything else is `unusual` and the job goes back to the main thread's client. Connections are kept alive and
 * reused per host:port when an answer's body was read to its end; one reused connection that closes before an
 * answer is retried once on a new one (a keep-alive race, not a failure). Also what both threads' redirects and
 * ranges need: REDIRECTS, rangeStart, nextHop.
 */
export const RAW_GET_JS = `
const net = require('node:net');
const READ = Buffer.allocUnsafeSlow(256 << 10);
const idleSockets = new Map();
const unusual = (why) => Object.assign(new Error(why), { code: 'VB_UNUSUAL' });
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// A Content-Range's first byte, or undefined when it does not parse.
const rangeStart = (cr) => { const m = /^bytes (\\d+)-(\\d+)\\/(\\d+|\\*)$/.exec(String(cr || '')); return m ? Number(m[1]) : undefined; };
// A redirect's next request: its URL, and the headers without credentials when it leaves the origin.
function nextHop(location, url, headers) {
  const next = new URL(location, url);
  const h = { ...headers };
  if (next.origin !== new URL(url).origin) { delete h.authorization; delete h.Authorization; }
  return { href: next.href, headers: h };
}

// h: { head(status, headers) -> boolean (false: stop, the connection is dropped), data(buf) -> boolean (false: pause
// until resume()), end(), error(err) }. Returns { resume(), destroy() }.
function rawGet(u, headers, L, h, fresh) {
  const key = (u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname) + ':' + (u.port || 80);
  const pool = idleSockets.get(key) || [];
  let sock = fresh ? undefined : pool.pop();
  const reused = sock !== undefined;
  let phase = 'CONNECT', head = [], left = 0, over = false, gotAny = false;
  const timeout = () => { const e = new Error(phase.toLowerCase() + ' timeout'); e.code = 'UND_ERR_' + phase + '_TIMEOUT'; fail(e); };
  const fail = (e) => {
    if (over) return;
    over = true;
    drop();
    if (reused && !gotAny && e.code !== 'VB_UNUSUAL' && !/TIMEOUT/.test(e.code || '')) { conn.inner = rawGet(u, headers, L, h, true); return; }
    h.error(e);
  };
  const drop = () => { if (sock) { sock.vbJob = undefined; sock.destroy(); } };
  const onRead = (n, buf) => {
    gotAny = true;
    if (over) return true;
    if (phase !== 'BODY') {
      // Usually the whole head is in this one read: parsed from the read buffer; else kept (copied) until it is.
      const all = head.length ? Buffer.concat([head[0], buf.subarray(0, n)]) : buf.subarray(0, n);
      head = [];
      const endAt = all.indexOf('\\r\\n\\r\\n');
      if (endAt < 0 || endAt > 65536) {
        if (all.length > 65536) fail(unusual('headers too long'));
        else head = [Buffer.from(all)];
        return true;
      }
      const lines = all.subarray(0, endAt).toString('latin1').split('\\r\\n');
      const sm = /^HTTP\\/1\\.[01] (\\d{3})/.exec(lines[0]);
      if (!sm) { fail(unusual('not an HTTP/1 answer')); return true; }
      const hs = {};
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c <= 0) { fail(unusual('bad header line')); return true; }
        const k = line.slice(0, c).trim().toLowerCase(), v = line.slice(c + 1).trim();
        if (k in hs && k === 'content-length' && hs[k] !== v) { fail(unusual('two lengths')); return true; }
        hs[k] = v;
      }
      const len = hs['content-length'];
      if (hs['transfer-encoding'] || len === undefined || !/^\\d+$/.test(len)) { fail(unusual('no content-length')); return true; }
      left = Number(len);
      sock.vbKeep = !/close/i.test(hs.connection || '') && !/^HTTP\\/1\\.0/.test(lines[0]);
      phase = 'BODY';
      sock.setTimeout(L.bodyTimeoutMs);
      if (!h.head(Number(sm[1]), hs)) { over = true; drop(); return true; }
      if (all.length > endAt + 4) return body(all, endAt + 4, all.length);
      return done();
    }
    return body(buf, 0, n);
  };
  const body = (buf, from, to) => {
    if (to - from > left) { fail(unusual('more bytes than its Content-Length')); return true; }
    left -= to - from;
    const go = to > from ? h.data(buf.subarray(from, to)) : true;
    if (over) return true;
    if (left === 0) return done();
    return go !== false;
  };
  const done = () => {
    if (left > 0 || over) return true;
    over = true;
    sock.vbJob = undefined;
    sock.setTimeout(0);
    if (sock.vbKeep) { pool.push(sock); idleSockets.set(key, pool); } else sock.destroy();
    h.end();
    return true;
  };
  const request = () => {
    phase = 'HEADERS';
    sock.setTimeout(L.headersTimeoutMs);
    let text = 'GET ' + u.pathname + u.search + ' HTTP/1.1\\r\\nhost: ' + u.host + '\\r\\nconnection: keep-alive\\r\\n';
    for (const [k, v] of Object.entries(headers)) text += k + ': ' + v + '\\r\\n';
    sock.write(text + '\\r\\n');
  };
  if (!sock) {
    sock = net.connect({ host: key.slice(0, key.lastIndexOf(':')), port: Number(u.port || 80), onread: { buffer: READ, callback: (n, buf) => (sock.vbJob ? sock.vbJob(n, buf) : (sock.destroy(), true)) } });
    sock.setNoDelay(true);
    sock.setTimeout(L.connectTimeoutMs);
    sock.on('timeout', () => sock.vbTimeout && sock.vbTimeout());
    sock.on('error', (e) => sock.vbFail && sock.vbFail(e));
    sock.on('close', () => {
      const p = idleSockets.get(key);
      if (p) { const i = p.indexOf(sock); if (i >= 0) p.splice(i, 1); }
      if (sock.vbFail) sock.vbFail(Object.assign(new Error('the connection closed before the whole body arrived'), { code: 'ECONNRESET' }));
    });
    sock.once('connect', request);
  }
  sock.vbJob = onRead;
  sock.vbTimeout = timeout;
  sock.vbFail = (e) => { if (!over) fail(e); };
  if (reused) request();
  const conn = {
    inner: undefined,
    resume() { if (conn.inner) conn.inner.resume(); else if (!over) sock.resume(); },
    destroy() { if (conn.inner) conn.inner.destroy(); else if (!over) { over = true; drop(); } },
  };
  return conn;
}
`;
