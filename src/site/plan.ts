import { createHash } from 'node:crypto';
import type { LoadedBundle } from '../bundle/load.js';
import { INDEX, PARTS, SBOM, SUMS, SUMS_SIG, blobPath } from '../bundle/layout.js';
import type { Locked } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import { IntegrityError } from '../util/errors.js';

/**
 * The site: one list of URL paths and where each one's bytes are, made from a bundle. `export --site` writes it
 * as a tree for nginx; `serve` answers it straight from the bundle. Both read the same list, so both sites agree.
 */

/** Where an entry's bytes are: a file of the bundle (read in place, never copied by serve) or bytes made here. */
export type SiteSource = { readonly bundle: string } | { readonly text: Buffer };

export interface SiteEntry {
  /** URL path below the site root, no leading slash: `apt/InRelease`, `hf/org/name/resolve/main/config.json`. */
  url: string;
  /** Where export writes it, relative to the site folder (an API answer is `<url>/index.json`). */
  file: string;
  source: SiteSource;
  size: number;
  /** Content-Type. */
  type: string;
  /** The strong ETag (without quotes): a content hash, or for the Hub's resolve URLs the Hub's own ETag. */
  etag: string;
  /** Headers of this entry beyond the usual ones (the Hub's X-Repo-Commit, X-Linked-Etag, X-Linked-Size). */
  headers?: Readonly<Record<string, string>>;
  /** The URL of this page's PEP 691 JSON twin, answered instead when the Accept header prefers it. */
  json?: string;
}

export interface SitePlan {
  name: string;
  version: string;
  entries: SiteEntry[];
  /**
   * The Hub's `POST /api/{type}s/{repo}/paths-info/{rev}` answers, one per file: key `{type}s/{repo}/{rev}`, then the
   * file path. serve answers from here; export writes each as `hf/api/…/paths-info/{rev}/{path}/index.json`.
   */
  pathsInfo: Map<string, Map<string, unknown>>;
  /** What the site holds, for the client lines. */
  has: { apt?: { signed: boolean }; pip: boolean; hf: { type: string; repo: string; revisions: string[] }[]; files: number };
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const BINARY = 'application/octet-stream';

export function sha256hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** An entry whose bytes are made for the site. */
export function textEntry(url: string, text: string | Buffer, type: string, file = url): SiteEntry {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  return { url, file, source: { text: b }, size: b.length, type, etag: sha256hex(b) };
}

/** An entry that is a file of the bundle, under its SHA256SUMS hash; a path the bundle lacks is an error. */
export function bundleEntry(b: LoadedBundle, path: string, url: string, type: string): SiteEntry {
  const e = b.reader.entries.get(path);
  const hex = b.sums.list.get(path);
  if (!e || e.kind !== 'file' || !hex) {
    throw new IntegrityError({
      code: 'MISSING_FILE',
      message: `${b.location}: ${path} is ${!e ? 'missing' : !hex ? 'not listed in SHA256SUMS' : 'not a file'}`,
      subject: `${b.location}/${path}`,
      hint: `run "vault-bundle verify ${b.location}"; a delta bundle cannot be served alone (serve or export its base's full bundle)`,
    });
  }
  return { url, file: url, source: { bundle: path }, size: e.size, type, etag: hex };
}

/** An artifact's blob under another URL (the wheel's own name, a .deb under the repository). */
export function blobEntry(b: LoadedBundle, a: Locked, url: string, type = BINARY): SiteEntry {
  return bundleEntry(b, blobPath(hexOf(a.digest)), url, type);
}

/** The bundle's own files at the top of the site, under their own names: SHA256SUMS checks them as they are. */
export async function topEntries(b: LoadedBundle): Promise<SiteEntry[]> {
  const out: SiteEntry[] = [textEntry(SUMS, b.sums.bytes, 'text/plain; charset=utf-8')];
  // SHA256SUMS.asc is not listed in SHA256SUMS (it signs it): its bytes, read once, are small.
  if (b.reader.entries.get(SUMS_SIG)?.kind === 'file') out.push(textEntry(SUMS_SIG, await b.reader.read(SUMS_SIG, 1 << 20), 'application/pgp-signature'));
  out.push(bundleEntry(b, INDEX, INDEX, JSON_TYPE));
  if (b.reader.entries.get(SBOM)?.kind === 'file') out.push(bundleEntry(b, SBOM, SBOM, 'application/vnd.cyclonedx+json'));
  if (b.reader.entries.get(PARTS)?.kind === 'file') out.push(bundleEntry(b, PARTS, PARTS, JSON_TYPE));
  return out;
}

/** `files/<name>`: the bundle's plain files under their manifest names. */
export function fileEntries(b: LoadedBundle): SiteEntry[] {
  return b.index.artifacts.filter((a) => a.kind === 'file' && safeSegment(a.name)).map((a) => blobEntry(b, a, `files/${a.name}`));
}

/** A single path segment that is safe as a file name and a URL segment. */
export function safeSegment(s: string): boolean {
  return s.length > 0 && s.length <= 255 && s !== '.' && s !== '..' && !/[/\\\u0000-\u001f\u007f]/.test(s);
}

/**
 * `bundle/<path>`: every file SHA256SUMS lists, under its own path (and SHA256SUMS with its signature), so
 * `install http://host:port/` and `verify http://host:port/` can fetch the bundle itself, checking each byte.
 */
export function rawEntries(b: LoadedBundle): SiteEntry[] {
  const out: SiteEntry[] = [textEntry(`bundle/${SUMS}`, b.sums.bytes, 'text/plain; charset=utf-8')];
  for (const path of b.sums.list.keys()) {
    if (b.reader.entries.get(path)?.kind === 'file') out.push(bundleEntry(b, path, `bundle/${path}`, BINARY));
  }
  return out;
}
