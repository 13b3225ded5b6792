import { escapeJsonText, escapeText, jsonLine } from '../util/escape.js';

/**
 * The CLI's only ways to the terminal: text goes through escapeText (a name from a bundle, manifest, index or
 * server can never move the cursor or clear the screen), a JSON record through jsonLine. Names are escaped
 * where messages are built as well (escapeName keeps a newline in a name from starting a fake line): this is the
 * net under that.
 */
export function printOut(text: string): void {
  process.stdout.write(escapeText(text));
}

export function printErr(text: string): void {
  process.stderr.write(escapeText(text));
}

/** One `{"type":…}` line on stdout. */
export function printJson(record: unknown): void {
  process.stdout.write(`${jsonLine(record)}\n`);
}

/** A JSON document (an SBOM) on stdout: the same value, with nothing raw a terminal would act on. */
export function printJsonText(text: string): void {
  process.stdout.write(escapeJsonText(text));
}
