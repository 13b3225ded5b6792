import { IntegrityError } from '../util/errors.js';
import { byteCompare } from '../util/fs.js';
import { SUMS } from './layout.js';

export interface SumEntry {
  path: string;
  hex: string;
}

/** coreutils format (`sha256sum` output, text mode): `<hex>  <path>`, sorted by path in byte order. */
export function formatSums(entries: readonly SumEntry[]): string {
  return [...entries]
    .sort((a, b) => byteCompare(a.path, b.path))
    .map((e) => `${e.hex}  ${e.path}\n`)
    .join('');
}

/**
 * Parses SHA256SUMS strictly: every line is `<64 hex> <space or *><path>`; paths are relative, without `..`,
 * and appear once. Anything else names the line.
 */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    const bad = (why: string) =>
      new IntegrityError({
        code: 'BAD_SUMS',
        message: `${SUMS}:${i + 1}: ${why}`,
        subject: `${SUMS}:${i + 1}`,
        hint: 'the checksum list was edited or damaged; get the bundle again from its source',
      });
    if (!m) throw bad('not a "<sha256>  <path>" line');
    const path = m[2]!;
    if (path.startsWith('/') || path.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw bad(`unsafe path "${path}"`);
    }
    if (out.has(path)) throw bad(`"${path}" is listed twice`);
    out.set(path, m[1]!);
  });
  return out;
}
