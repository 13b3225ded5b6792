import type { LoadedBundle } from '../bundle/load.js';
import { blobPath } from '../bundle/layout.js';
import { escapeHtml } from '../report/escape.js';
import { compareVersions, normalizeName } from '../sources/pip/pep440.js';
import type { Locked } from '../sources/source.js';
import { hexOf } from '../store/digest.js';
import { readZipMember } from '../util/zip.js';
import { HTML, PYPI_JSON } from './negotiate.js';
import { type SiteEntry, blobEntry, bundleEntry, safeSegment, sha256hex, textEntry } from './plan.js';

const LOCK = 'pip/requirements.lock';
const API_VERSION = '1.1';

/** A wheel as the index pages list it. */
interface Listed {
  file: string;
  hex: string;
  size: number;
  version: string;
  /** The sha256 of its core metadata, served beside it as `<file>.metadata` (PEP 658/714). */
  metadata?: string;
  requiresPython?: string;
}

/**
 * `simple/` (PEP 503 pages; with PEP 691's JSON form of each, api-version 1.1 with PEP 700's versions and sizes,
 * which serve and the exported nginx.conf pick by the Accept header) and `wheels/`: the bundle's wheels under their
 * real file names, each link carrying `#sha256=`, each wheel's METADATA beside it as `<file>.metadata` (PEP 658,
 * announced as `core-metadata` and the older `dist-info-metadata`, PEP 714) with its Requires-Python. pip reads
 * them with `--index-url http://host/simple/` or `--find-links http://host/wheels/`, and the bundle's own
 * `pip/requirements.lock` (`name==version --hash=sha256:…`) works with either and `--require-hashes`.
 */
export async function pypiEntries(b: LoadedBundle): Promise<SiteEntry[]> {
  const wheels = b.index.artifacts.filter((a) => a.kind === 'pip' && safeSegment(a.meta?.filename ?? ''));
  if (wheels.length === 0) return [];
  const out: SiteEntry[] = [];
  const byProject = new Map<string, Listed[]>();
  const seen = new Set<string>();
  for (const a of wheels) {
    const file = a.meta!.filename!;
    if (seen.has(file)) continue;
    seen.add(file);
    out.push(blobEntry(b, a, `wheels/${file}`, 'application/zip'));
    const l: Listed = { file, hex: hexOf(a.digest), size: a.size, version: a.version };
    const md = await coreMetadata(b, a);
    if (md) {
      out.push(textEntry(`wheels/${file}.metadata`, md, 'text/plain; charset=utf-8'));
      l.metadata = sha256hex(md);
      const rp = requiresPython(md);
      if (rp) l.requiresPython = rp;
    }
    const p = normalizeName(a.name);
    byProject.set(p, [...(byProject.get(p) ?? []), l]);
  }
  const projects = [...byProject.keys()].sort();
  out.push(
    ...twins(
      'simple/',
      'Simple index',
      projects.map((p) => link(`${p}/`, p)),
      { projects: projects.map((name) => ({ name })) },
    ),
  );
  for (const p of projects) {
    const files = byProject.get(p)!.sort((x, y) => (x.file < y.file ? -1 : 1));
    const versions = [...new Set(files.map((f) => f.version))].sort((x, y) => safeCompare(x, y));
    out.push(
      ...twins(
        `simple/${p}/`,
        `Links for ${p}`,
        files.map((f) => fileLink(`../../wheels/${f.file}`, f)),
        { name: p, versions, files: files.map((f) => jsonFile(`../../wheels/${f.file}`, f)) },
      ),
    );
  }
  const all = [...byProject.values()].flat().sort((x, y) => (x.file < y.file ? -1 : 1));
  out.push(
    textEntry(
      'wheels/index.html',
      page(
        'Wheels',
        all.map((f) => fileLink(f.file, f)),
      ),
      HTML,
    ),
  );
  if (b.sums.list.has(LOCK)) out.push(bundleEntry(b, LOCK, LOCK, 'text/plain; charset=utf-8'));
  return out;
}

/** A simple-index page in both forms: `<dir>index.html` (the default) names its JSON twin `<dir>index.json`. */
function twins(dir: string, title: string, lines: string[], json: Record<string, unknown>): SiteEntry[] {
  const vary = { Vary: 'Accept' };
  const j = { ...textEntry(`${dir}index.json`, `${JSON.stringify({ meta: { 'api-version': API_VERSION }, ...json })}\n`, PYPI_JSON), headers: vary };
  const h = { ...textEntry(`${dir}index.html`, page(title, lines), HTML), headers: vary, json: j.url };
  return [h, j];
}

/** The wheel's `.dist-info/METADATA`, read from its blob in place; undefined when it cannot be (then not announced). */
async function coreMetadata(b: LoadedBundle, a: Locked): Promise<Buffer | undefined> {
  const segs = b.reader.entries.get(blobPath(hexOf(a.digest)))?.job.segments;
  // A wheel cut across two parts of a split bundle is not read as a zip in place: no .metadata for it.
  if (segs?.length !== 1) return undefined;
  const s = segs[0]!;
  try {
    const m = await readZipMember(s.file, (n) => /^[^/]+\.dist-info\/METADATA$/.test(n), 4 << 20, { offset: s.offset, length: s.length });
    return m?.data;
  } catch {
    return undefined;
  }
}

/** `Requires-Python:` of the metadata's header block (RFC 822 style, up to the first empty line). */
function requiresPython(md: Buffer): string | undefined {
  const head = md.toString('utf8').split(/\r?\n\r?\n/, 1)[0]!;
  const m = /^Requires-Python:[ \t]*(.+?)[ \t]*$/im.exec(head);
  return m && m[1]!.length <= 200 ? m[1] : undefined;
}

function safeCompare(x: string, y: string): number {
  try {
    return compareVersions(x, y);
  } catch {
    return x < y ? -1 : x > y ? 1 : 0;
  }
}

function jsonFile(url: string, f: Listed): Record<string, unknown> {
  const md = f.metadata ? { 'core-metadata': { sha256: f.metadata }, 'dist-info-metadata': { sha256: f.metadata } } : {};
  return {
    filename: f.file,
    url: encodeURI(url),
    hashes: { sha256: f.hex },
    ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
    ...md,
    size: f.size,
    yanked: false,
  };
}

function fileLink(href: string, f: Listed): string {
  const attrs = [
    ...(f.requiresPython ? [` data-requires-python="${escapeHtml(f.requiresPython)}"`] : []),
    ...(f.metadata ? [` data-core-metadata="sha256=${f.metadata}"`, ` data-dist-info-metadata="sha256=${f.metadata}"`] : []),
  ];
  return link(`${href}#sha256=${f.hex}`, f.file, attrs.join(''));
}

function link(href: string, text: string, attrs = ''): string {
  return `    <a href="${escapeHtml(encodeURI(href))}"${attrs}>${escapeHtml(text)}</a><br/>`;
}

function page(title: string, lines: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.1">',
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
    ...lines,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}
