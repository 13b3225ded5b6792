import type { Reporter, VaultEvent } from '../util/events.js';
import { escapeText } from '../util/escape.js';
import { formatBytes } from '../util/format.js';
import { printJson } from './out.js';
import { CheckMeter, FetchMeter, LiveLine, VerifyMeter, planText } from './progress.js';

export type OutputMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface Renderer {
  report: Reporter;
  /** Clears a progress line before other output. */
  finish(): void;
}

type Ev<T extends VaultEvent['type']> = Extract<VaultEvent, { type: T }>;
type Handlers = { [K in VaultEvent['type']]: (e: Ev<K>) => void };

/** Too chatty for a stream of records, or progress only a person watches: start/done and the result carry the sizes. */
const NOT_JSON: ReadonlySet<VaultEvent['type']> = new Set(['download:progress', 'verify:plan', 'verify:progress', 'verify:file']);

/**
 * Renders library events: on a TTY, one live progress line (the fetch's files, bytes, rate and ETA against
 * everything the build needs; verify's; the smoke check running) with other messages above it; plain lines
 * otherwise (no carriage returns, no verify progress); JSON lines with --json; nothing but errors with --quiet.
 */
export function makeRenderer(mode: OutputMode, out: NodeJS.WriteStream = process.stderr): Renderer {
  if (mode === 'quiet') return { report: () => {}, finish: () => {} };
  if (mode === 'json') {
    return {
      report: (e) => {
        if (!NOT_JSON.has(e.type)) printJson({ ...e, time: new Date().toISOString() });
      },
      finish: () => {},
    };
  }
  const tty = mode === 'tty';
  const live = new LiveLine(out);
  const say = (s: string) => (tty ? live.print(s) : out.write(`${escapeText(s)}\n`));
  const checks = checkHandlers(tty, live, say);
  const h: Handlers = {
    ...transferHandlers(tty, live, say),
    ...verifyHandlers(tty, live),
    ...checks.handlers,
    warn: (e) => say(`warning: ${e.message}`),
    info: (e) => say(e.message),
  };
  const report = (e: VaultEvent) => (h[e.type] as (e: VaultEvent) => void)(e);
  return {
    report,
    finish: () => {
      checks.stop();
      live.clear();
    },
  };
}

/** Phases and downloads (fetch, pull, push: the phase says which way the bytes go). */
function transferHandlers(
  tty: boolean,
  live: LiveLine,
  say: (s: string) => void,
): Pick<Handlers, Extract<VaultEvent['type'], 'phase' | 'fetch:plan' | `download:${string}`>> {
  const m = new FetchMeter();
  let verb = { bar: 'fetch', ing: 'fetching', ed: 'fetched' };
  const draw = (force = false) => {
    if (!tty) return;
    live.draw(m.line(verb.bar), force || m.complete);
    if (m.complete && m.planned) live.keep(); // the fetch's last line stays: its totals and the time it took
  };
  return {
    phase: (e) => {
      verb = e.phase === 'push' ? { bar: 'upload', ing: 'uploading', ed: 'uploaded' } : { bar: 'fetch', ing: 'fetching', ed: 'fetched' };
      say(`${e.phase}${e.detail ? `: ${e.detail}` : ''}`);
    },
    'fetch:plan': (e) => {
      m.plan(e);
      say(planText(e));
      if (!m.complete) draw(true);
    },
    'download:start': (e) => {
      m.start(e);
      if (e.resumeFrom > 0) say(`resuming ${e.id} from ${formatBytes(e.resumeFrom)} of ${formatBytes(e.size)}`);
      else if (!tty) say(`${verb.ing} ${e.id} (${formatBytes(e.size)})`);
      draw();
    },
    'download:progress': (e) => {
      m.progress(e);
      draw();
    },
    'download:done': (e) => {
      m.done(e);
      if (e.cached) return;
      if (!tty) say(`${verb.ed} ${e.id}`);
      draw(true);
    },
    'download:retry': (e) => say(`retry ${e.attempt} for ${e.id} in ${Math.round(e.delayMs)} ms: ${e.reason}`),
  };
}

/** verify's line: on a terminal only; a pipe gets nothing until the result. */
function verifyHandlers(tty: boolean, live: LiveLine): Pick<Handlers, Extract<VaultEvent['type'], `verify:${string}`>> {
  const m = new VerifyMeter();
  const draw = (force = false) => {
    if (!tty) return;
    live.draw(m.line('verify'), force || m.complete);
    if (m.complete) live.reset(); // the result line that follows says it all
  };
  return {
    'verify:plan': (e) => {
      m.plan(e);
      if (e.files > 0) draw(true);
    },
    'verify:progress': (e) => {
      m.progress(e);
      draw();
    },
    'verify:file': (e) => {
      m.file(e);
      draw();
    },
  };
}

/**
 * smoke's checks: on a terminal, only the check running (its number, clock and the tally so far) in place; the
 * result table names each check once. Plain output logs each start and outcome, as a log should.
 */
function checkHandlers(
  tty: boolean,
  live: LiveLine,
  say: (s: string) => void,
): { handlers: Pick<Handlers, Extract<VaultEvent['type'], `check:${string}`>>; stop: () => void } {
  const m = new CheckMeter();
  let ticker: NodeJS.Timeout | undefined;
  const stop = () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
  };
  const draw = () => {
    const line = m.line();
    if (line) live.draw(line, true);
  };
  const handlers: Pick<Handlers, Extract<VaultEvent['type'], `check:${string}`>> = {
    'check:start': (e) => {
      m.start(e);
      if (!tty) return say(`check ${e.id}: ${e.title}`);
      draw();
      stop();
      // A check runs for minutes: its line's clock moves once a second (the timer keeps nothing alive).
      ticker = setInterval(draw, 1000);
      ticker.unref();
    },
    'check:done': (e) => {
      m.done(e);
      if (!tty) return say(`${e.status.toUpperCase()} ${e.id}${e.reason ? `: ${e.reason}` : ''}`);
      stop();
      live.reset();
    },
  };
  return { handlers, stop };
}
