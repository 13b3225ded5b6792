import { escapeJsonText, escapeText, jsonLine } from '../util/escape.js';

/**
 * The CLI's only ways to the terminal: text goes through escapeText (a name from a bundle, manifest, index or
 * server can never move the cursor or clear the screen), a JSON record through jsonLine. Names are escaped
 * where messages are built as well (escapeName keeps a newline in a name from starting a fake line): this is the
 * net under that.
 */
export function printOut(text: string): void {
  if (!closed.stdout) process.stdout.write(escapeText(text));
}

export function printErr(text: string): void {
  if (!closed.stderr) process.stderr.write(escapeText(text));
}

/** One `{"type":…}` line on stdout. */
export function printJson(record: unknown): void {
  if (!closed.stdout) process.stdout.write(`${jsonLine(record)}\n`);
}

/** A JSON document (an SBOM) on stdout: the same value, with nothing raw a terminal would act on. */
export function printJsonText(text: string): void {
  if (!closed.stdout) process.stdout.write(escapeJsonText(text));
}

const closed = { stdout: false, stderr: false };

/**
 * `vault-bundle schema | head -1`: the reader closed the pipe. Node ignores SIGPIPE, so each later write fails with
 * EPIPE, and an 'error' event nobody listens to kills the process with a stack trace. What is left to print has
 * no reader: it is dropped, and the command ends as it would have (its own exit code), quietly. Other errors of
 * the two streams (EIO of a gone terminal) are dropped the same way: there is nowhere left to report them.
 * Called once by the process entry (cli/run.ts), never by tests that run main() in-process.
 */
export function dropOutputOnClosedPipe(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    // Threads started before the CLI (boot.cjs's early hashing, one a core) each pipe their output into this stream
    // with an 'error' listener: one more here is no leak (16 on the box printed MaxListenersExceededWarning).
    const s = process[name];
    s.setMaxListeners(Math.max(s.getMaxListeners(), s.listenerCount('error') + 1));
    s.on('error', () => {
      closed[name] = true;
    });
  }
}

let atOnce = false;

/**
 * The verb has nothing left to do once its output is out (verify: its threads are stopped, nothing was written):
 * the process entry (cli/run.ts) then ends the process as soon as stdout and stderr are flushed, instead of tearing
 * down Node's environment and V8's heap first (tens of ms on the box, after the answer is already known).
 */
export function endAtOnce(): void {
  atOnce = true;
}

/** Whether a verb asked to end at once (read by cli/run.ts once main() has returned). */
export function endsAtOnce(): boolean {
  return atOnce;
}

/**
 * Resolves once everything written to stdout and stderr so far has been handed to the OS (a pipe whose reader is
 * slow included): a write's callback runs only after the writes before it. A closed or failed stream resolves too.
 */
export function flushed(): Promise<void> {
  const drained = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => (s.destroyed || s.writableEnded ? resolve() : s.write('', () => resolve())));
  return Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => undefined);
}
