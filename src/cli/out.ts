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
    process[name].on('error', () => {
      closed[name] = true;
    });
  }
}
