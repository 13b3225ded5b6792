/**
 * Names from a bundle, manifest, index or server are never printed as they are: a tar member or SHA256SUMS line
 * holding ESC [2J (clear screen), ESC [1A (cursor up), a carriage return or a bidi override could hide the real
 * failure behind a faked "OK" line. Every character a terminal acts on instead of drawing is shown in a visible
 * form: C0 controls and DEL as \xNN, C1 controls (U+0080-U+009F: 0x9B is a one-byte CSI), bidi embeddings,
 * overrides and isolates, and the Unicode line/paragraph separators as \u{NNNN}.
 *
 * Only the terminal's view changes: a backslash is not doubled (a name that already reads "\x1b" is shown as it
 * is, ambiguous but harmless: it moves no cursor).
 */

// C0 (all of it for a name: a newline in a name would start a fake line), DEL, C1, bidi marks and
// controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069), U+2028/U+2029.
const NAME_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
// The same for text the tool composed itself (messages, tables): its own newlines and tabs stay.
const TEXT_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
// For JSON text: JSON.stringify already writes C0 as \u00NN; DEL, C1, bidi and the separators it leaves raw.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

function visible(c: string): string {
  const n = c.codePointAt(0)!;
  if (n < 0x80) return `\\x${n.toString(16).padStart(2, '0')}`;
  return `\\u{${n.toString(16).padStart(4, '0')}}`;
}

/** One name (file, member, package, path) for a terminal: every control character visible, newlines too. */
export function escapeName(name: string): string {
  return name.replace(NAME_UNSAFE, visible);
}

/** A message or table the tool composed: controls visible, its own line breaks and tabs kept. */
export function escapeText(text: string): string {
  return text.replace(TEXT_UNSAFE, visible);
}

/**
 * A JSON line safe on a terminal that still carries every name exactly: the characters JSON.stringify leaves raw
 * become \uNNNN escapes, which any JSON reader turns back into the same string.
 */
export function jsonLine(value: unknown): string {
  return escapeJsonText(JSON.stringify(value));
}

/** JSON text made elsewhere, made terminal-safe the same way (the value it parses to is unchanged). */
export function escapeJsonText(text: string): string {
  return text.replace(JSON_UNSAFE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** True when `s` holds nothing a terminal would act on (for tests and asserts). */
export function isTerminalSafe(s: string): boolean {
  TEXT_UNSAFE.lastIndex = 0;
  return !TEXT_UNSAFE.test(s);
}
