import { readZipMember } from '../../util/zip.js';

/** The core metadata (`<name>.dist-info/METADATA`) of a wheel file. */
export async function wheelMetadata(file: string): Promise<string> {
  const m = await readZipMember(file, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n));
  if (!m) throw new Error('no .dist-info/METADATA in the wheel');
  return m.data.toString('utf8');
}

/** Fields of core metadata (RFC 822 style, Metadata 2.x): repeated fields become lists; the body is dropped. */
export function parseMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // the description body follows the first empty line
    if (/^\s/.test(line) && last) {
      const l = out.get(last)!;
      l[l.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    out.set(last, [...(out.get(last) ?? []), line.slice(i + 1).trim()]);
  }
  return out;
}
