import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { STATUS_FIELDS, readStanzas } from '../sources/apt/deb822.js';

/** dpkg's own spelling of the fields apt's resolver reads from the status file (deb822 matches case-insensitively). */
const NAMES: Record<string, string> = {
  package: 'Package',
  status: 'Status',
  version: 'Version',
  architecture: 'Architecture',
  'multi-arch': 'Multi-Arch',
  essential: 'Essential',
  important: 'Important',
  protected: 'Protected',
  priority: 'Priority',
  source: 'Source',
  'installed-size': 'Installed-Size',
  provides: 'Provides',
  'pre-depends': 'Pre-Depends',
  depends: 'Depends',
  recommends: 'Recommends',
  suggests: 'Suggests',
  conflicts: 'Conflicts',
  breaks: 'Breaks',
  replaces: 'Replaces',
  enhances: 'Enhances',
};

const INSTALLED = /^(install|hold)\s+ok\s+installed$/i;

/**
 * The installed stanzas of a dpkg status file with only the fields apt's resolver reads (STATUS_FIELDS, what
 * parseStatus keeps), values verbatim, in the file's order: parseStatus of the result equals parseStatus of
 * the whole file. Descriptions, conffiles and maintainer scripts' data are dropped (about 2/3 of the file).
 */
export async function reduceStatus(chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): Promise<{ text: string; packages: number }> {
  const out: string[] = [];
  await readStanzas(chunks, STATUS_FIELDS, (s) => {
    if (!INSTALLED.test(s.status ?? '') || !s.package || !s.version) return;
    out.push(
      Object.entries(s)
        .map(([k, v]) => `${NAMES[k] ?? k}: ${v.replace(/\n/g, '\n ')}`)
        .join('\n'),
    );
  });
  return { text: out.length ? `${out.join('\n\n')}\n` : '', packages: out.length };
}

/**
 * gzip + base64: the reduced status of a real Ubuntu 24.04 GPU box (440 packages) is 152 KB of text and 32 KB
 * this way; a desktop-sized box (3,000 packages) stays far below 1 MiB. The field tech carries the file out
 * on a stick and the reviewer can still read it: `jq -r .dpkg.status box.json | base64 -d | gunzip`.
 */
export function encodeStatus(text: string): { encoding: 'gzip+base64'; status: string; sha256: string } {
  return {
    encoding: 'gzip+base64',
    status: gzipSync(text, { level: 9 }).toString('base64'),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

/** A real box's reduced status is a few MB; a probe from a hostile box must not inflate into gigabytes. */
export const MAX_STATUS_BYTES = 64 * 1024 * 1024;

export function decodeStatus(encoded: string): string {
  return gunzipSync(Buffer.from(encoded, 'base64'), { maxOutputLength: MAX_STATUS_BYTES }).toString('utf8');
}
