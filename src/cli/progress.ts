import type { VaultEvent } from '../util/events.js';
import { escapeText } from '../util/escape.js';
import { formatBytes, formatDuration, formatElapsed } from '../util/format.js';

type Ev<T extends VaultEvent['type']> = Extract<VaultEvent, { type: T }>;

/**
 * One line redrawn in place on a terminal (`\r`, erase line), at most every `everyMs` unless forced, cut to the
 * terminal's width (a wrapped line could not be erased), cleared before any other output and drawn again after it.
 */
export class LiveLine {
  private drawn = false;
  private last = 0;
  private text = '';
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly everyMs = 200,
  ) {}

  draw(text: string, force = false): void {
    this.text = text;
    const now = Date.now();
    if (!force && now - this.last < this.everyMs) return;
    this.last = now;
    const width = this.out.columns > 1 ? this.out.columns - 1 : Infinity;
    const safe = escapeText(text);
    this.out.write(`\r\x1b[2K${safe.length > width ? `${safe.slice(0, width - 1)}…` : safe}`);
    this.drawn = true;
  }

  /** A line of its own above the live one (which is drawn again below it, if there was one). */
  print(line: string): void {
    const was = this.drawn;
    this.clear();
    this.out.write(`${escapeText(line)}\n`);
    if (was) this.draw(this.text, true);
  }

  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** Forget the text: nothing is drawn again after a print until the next draw. */
  reset(): void {
    this.clear();
    this.text = '';
  }

  /** The line as last drawn stays on the screen (its final numbers); the next draw starts a new one. */
  keep(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
    this.text = '';
  }
}

/** Bytes and files towards a total, with the rate of the bytes this run moved (not those it found already there). */
abstract class Meter {
  files = 0;
  bytes = 0;
  doneFiles = 0;
  doneBytes = 0;
  protected moved = 0;
  protected startedAt = 0;

  protected began(): void {
    if (!this.startedAt) this.startedAt = Date.now();
  }

  /** `<verb> 40/562 files  1.20 GiB/2.64 GiB  12.3 MiB/s  ETA 2m03s`. */
  line(verb: string): string {
    const secs = this.startedAt ? Math.max(0.001, (Date.now() - this.startedAt) / 1000) : 0;
    const rate = secs ? this.moved / secs : 0;
    const left = this.bytes - this.doneBytes;
    const eta = rate > 0 ? (left / rate) * 1000 : NaN;
    // The last line says how long it took; the ones before, how long is left.
    const when = this.complete ? `in ${formatElapsed(secs * 1000)}` : `ETA ${formatDuration(eta)}`;
    return `${verb} ${this.doneFiles}/${this.files} files  ${formatBytes(this.doneBytes)}/${formatBytes(this.bytes)}  ${formatBytes(rate)}/s  ${when}`;
  }

  get complete(): boolean {
    return this.doneFiles >= this.files;
  }
}

/**
 * The fetch line's numbers. With a plan (`fetch:plan`), the totals are everything the build needs and the cached
 * part is done from the start; without one (push, pull), each new download adds to them as it starts. Each
 * download's bytes so far are kept, so a retry that resumes below what had come (a partial file is cut to a
 * sector) or starts over takes back what is not kept: the last line reads done == total.
 */
export class FetchMeter extends Meter {
  /** Totals known up front (a build): its last line is final. Without a plan (push, pull) more may follow. */
  planned = false;
  private readonly inFlight = new Map<string, number>();
  private readonly seen = new Set<string>();

  plan(e: Ev<'fetch:plan'>): void {
    Object.assign(this, { files: e.files, bytes: e.bytes, doneFiles: e.cachedFiles, doneBytes: e.cachedBytes, moved: 0, startedAt: 0 });
    this.planned = true;
    this.inFlight.clear();
    this.seen.clear();
  }

  start(e: Ev<'download:start'>): void {
    this.began();
    if (!this.planned && !this.seen.has(e.id)) {
      this.files++;
      this.bytes += e.size;
    }
    this.seen.add(e.id);
    this.doneBytes += e.resumeFrom - (this.inFlight.get(e.id) ?? 0);
    this.inFlight.set(e.id, e.resumeFrom);
  }

  progress(e: Ev<'download:progress'>): void {
    this.inFlight.set(e.id, (this.inFlight.get(e.id) ?? 0) + e.bytes);
    this.doneBytes += e.bytes;
    this.moved += e.bytes;
  }

  done(e: Ev<'download:done'>): void {
    if (e.cached) {
      // A planned cached blob is counted already; without a plan, it is one more file, done.
      if (this.planned || this.seen.has(e.id)) return;
      this.seen.add(e.id);
      this.files++;
      this.bytes += e.size;
      this.doneFiles++;
      this.doneBytes += e.size;
      return;
    }
    this.doneBytes += e.size - (this.inFlight.get(e.id) ?? 0);
    this.inFlight.delete(e.id);
    this.doneFiles++;
  }
}

/** The verify line's numbers: the plan's files and bytes, each file counted when judged, a big one's bytes as they are read. */
export class VerifyMeter extends Meter {
  private readonly partial = new Map<string, number>();

  plan(e: Ev<'verify:plan'>): void {
    Object.assign(this, { files: e.files, bytes: e.bytes, doneFiles: 0, doneBytes: 0, moved: 0, startedAt: Date.now() });
    this.partial.clear();
  }

  progress(e: Ev<'verify:progress'>): void {
    const n = e.bytes - (this.partial.get(e.path) ?? 0);
    this.partial.set(e.path, e.bytes);
    this.doneBytes += n;
    this.moved += n;
  }

  file(e: Ev<'verify:file'>): void {
    const n = e.bytes - (this.partial.get(e.path) ?? 0);
    this.partial.delete(e.path);
    this.doneBytes += n;
    this.moved += n;
    this.doneFiles++;
  }
}

/** The smoke line: which check runs (n of total), for how long, and the tally so far. */
export class CheckMeter {
  private current: { text: string; since: number } | undefined;
  private readonly tally = new Map<string, number>();

  start(e: Ev<'check:start'>): void {
    this.current = { text: `check ${e.index + 1}/${e.total} ${e.id}: ${e.title}`, since: Date.now() };
  }

  done(e: Ev<'check:done'>): void {
    this.tally.set(e.status, (this.tally.get(e.status) ?? 0) + 1);
    this.current = undefined;
  }

  /** The live line, or undefined between checks. */
  line(): string | undefined {
    if (!this.current) return undefined;
    const so = ['pass', 'fail', 'error', 'skip'].filter((s) => this.tally.get(s)).map((s) => `${this.tally.get(s)} ${s}`);
    return `${this.current.text}  ${formatDuration(Date.now() - this.current.since)}${so.length ? `  (${so.join(', ')})` : ''}`;
  }
}

/** What a plan says before the downloads: how much is needed and how much of it the cache has. */
export function planText(e: Ev<'fetch:plan'>): string {
  const get = e.files - e.cachedFiles;
  return (
    `need ${e.files} files (${formatBytes(e.bytes)}): ${e.cachedFiles} in the cache (${formatBytes(e.cachedBytes)}), ` +
    `${get} to download (${formatBytes(e.bytes - e.cachedBytes)})`
  );
}
