import type { Reporter, VaultEvent } from '../util/events.js';
import { escapeText } from '../util/escape.js';
import { formatBytes, formatDuration } from '../util/format.js';
import { printJson } from './out.js';

export type OutputMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Renderer {
  report: Reporter;
  /** Clears a progress line before other output. */
  finish(): void;
}

/**
 * Renders library events: one live progress line on a TTY (files, bytes, rate, ETA), plain lines otherwise,
 * JSON lines with --json, nothing but errors with --quiet.
 */
export function makeRenderer(mode: OutputMode, out: NodeJS.WriteStream = process.stderr): Renderer {
  if (mode === 'quiet') return { report: () => {}, finish: () => {} };
  if (mode === 'json') {
    return {
      report: (e) => {
        if (e.type === 'download:progress') return; // too chatty for a stream; start/done carry sizes
        printJson({ ...e, time: new Date().toISOString() });
      },
      finish: () => {},
    };
  }
  return textRenderer(mode, out);
}

/** Transfers seen so far: files started and done, bytes received of the total, when the first started. */
interface Transfers {
  files: number;
  done: number;
  bytes: number;
  total: number;
  start: number;
}

/** The TTY's live line: `fetch 3/10 files  1.2 MiB/40 MiB  5 MiB/s  ETA 8s` (upload while pushing). */
function progressLine(dl: Transfers, bar: string, now: number): string {
  const secs = Math.max(0.001, (now - dl.start) / 1000);
  const rate = dl.bytes / secs;
  const eta = rate > 0 ? ((dl.total - dl.bytes) / rate) * 1000 : NaN;
  return `${bar} ${dl.done}/${dl.files} files  ${formatBytes(dl.bytes)}/${formatBytes(dl.total)}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
}

/** Plain lines, and on a TTY one progress line redrawn at most every 100 ms and cleared before other output. */
function textRenderer(mode: 'tty' | 'plain', out: NodeJS.WriteStream): Renderer {
  const dl: Transfers = { files: 0, done: 0, bytes: 0, total: 0, start: 0 };
  const sizes = new Map<string, number>();
  let lastDraw = 0;
  let drawn = false;
  // The transfer events are the same for every direction; the phase says which (push sends, the rest fetch).
  let verb = { bar: 'fetch', ing: 'fetching', ed: 'fetched' };
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    out.write(`\r\x1b[2K${escapeText(progressLine(dl, verb.bar, now))}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) out.write('\r\x1b[2K');
    drawn = false;
  };
  const plain = (s: string) => {
    if (mode === 'tty') clear();
    out.write(`${escapeText(s)}\n`);
  };
  const report = (e: VaultEvent) => {
    switch (e.type) {
      case 'phase':
        verb = e.phase === 'push' ? { bar: 'upload', ing: 'uploading', ed: 'uploaded' } : { bar: 'fetch', ing: 'fetching', ed: 'fetched' };
        plain(`${e.phase}${e.detail ? `: ${e.detail}` : ''}`);
        break;
      case 'download:start':
        if (!sizes.has(e.id)) {
          if (dl.files === 0) dl.start = Date.now();
          sizes.set(e.id, e.size);
          dl.files++;
          dl.total += e.size;
          dl.bytes += e.resumeFrom;
        }
        if (mode === 'plain') plain(`${verb.ing} ${e.id} (${formatBytes(e.size)}${e.resumeFrom ? `, resuming at ${formatBytes(e.resumeFrom)}` : ''})`);
        else draw();
        break;
      case 'download:progress':
        dl.bytes += e.bytes;
        if (mode === 'tty') draw();
        break;
      case 'download:done':
        if (e.cached) break;
        dl.done++;
        if (mode === 'plain') plain(`${verb.ed} ${e.id}`);
        else draw(true);
        break;
      case 'download:retry':
        plain(`retry ${e.attempt} for ${e.id} in ${Math.round(e.delayMs)} ms: ${e.reason}`);
        break;
      case 'verify:file':
        break;
      case 'warn':
        plain(`warning: ${e.message}`);
        break;
      case 'info':
        plain(e.message);
        break;
      default: {
        const never: never = e;
        void never;
      }
    }
  };
  return { report, finish: clear };
}
