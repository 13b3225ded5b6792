import { readFileSync } from 'node:fs';

/**
 * The text of a file that ships inside the tool: a box-side .sh or .py kept beside the module that names it,
 * as a real file its own linter reads. In a checkout it is read from there; the packed script carries it:
 * runtime/pack.ts inlines every call of the form EMBED_CALL matches (embedded, new URL of a literal relative
 * path and import.meta.url, on one line) as that file's text at pack time.
 */
export function embedded(url: URL): string {
  return readFileSync(url, 'utf8');
}

/** The call form pack.ts inlines; group 1 is the relative path. */
export const EMBED_CALL = /\bembedded\(new URL\('([^']+)', import\.meta\.url\)\)/g;
