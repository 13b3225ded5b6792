import type { AccessLine } from './server.js';

export interface LineBatch {
  /** Queues one access-log record as a JSON line. */
  add(line: AccessLine): void;
  /** Writes what is queued now (before the log's stream is closed). */
  flush(): void;
}

/**
 * The access log written in batches: one write per `everyMs` (or per `maxBytes` queued) instead of one per
 * answer. Under 64 busy clients a write per line (a syscall, or a thread-pool job for a file) cost more than the
 * answer itself. A line waits at most `everyMs`; `flush()` writes the rest when serve stops.
 */
export function lineBatch(write: (chunk: string) => void, o: { everyMs?: number; maxBytes?: number } = {}): LineBatch {
  const everyMs = o.everyMs ?? 100;
  const maxBytes = o.maxBytes ?? 64 * 1024;
  let queued: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queued.length === 0) return;
    const chunk = queued.join('');
    queued = [];
    bytes = 0;
    write(chunk);
  };
  return {
    add(line) {
      const s = `${JSON.stringify(line)}\n`;
      queued.push(s);
      bytes += s.length;
      if (bytes >= maxBytes) flush();
      else if (!timer) timer = setTimeout(flush, everyMs).unref();
    },
    flush,
  };
}
