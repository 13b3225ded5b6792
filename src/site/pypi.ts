import type { LoadedBundle } from '../bundle/load.js';
import { escapeHtml } from '../report/escape.js';
import { normalizeName } from '../sources/pip/pep440.js';
import { hexOf } from '../store/digest.js';
import { type SiteEntry, blobEntry, bundleEntry, safeSegment, textEntry } from './plan.js';

const HTML = 'text/html; charset=utf-8';
const LOCK = 'pip/requirements.lock';

/**
 * `simple/` (PEP 503 pages, PEP 691's HTML form: api-version 1.0) and `wheels/`: the bundle's wheels under their
 * real file names, each link carrying `#sha256=`. pip reads them with `--index-url http://host/simple/` or
 * `--find-links http://host/wheels/` (a page listing every wheel, or the exported folder itself), and the bundle's
 * own `pip/requirements.lock` (`name==version --hash=sha256:…`) works with either and `--require-hashes`.
 */
export function pypiEntries(b: LoadedBundle): SiteEntry[] {
  const wheels = b.index.artifacts.filter((a) => a.kind === 'pip' && safeSegment(a.meta?.filename ?? ''));
  if (wheels.length === 0) return [];
  const out: SiteEntry[] = [];
  const byProject = new Map<string, { file: string; hex: string }[]>();
  const seen = new Set<string>();
  for (const a of wheels) {
    const file = a.meta!.filename!;
    if (seen.has(file)) continue;
    seen.add(file);
    out.push(blobEntry(b, a, `wheels/${file}`, 'application/zip'));
    const p = normalizeName(a.name);
    byProject.set(p, [...(byProject.get(p) ?? []), { file, hex: hexOf(a.digest) }]);
  }
  const projects = [...byProject.keys()].sort();
  out.push(
    textEntry(
      'simple/index.html',
      page(
        'Simple index',
        projects.map((p) => link(`${p}/`, p)),
      ),
      HTML,
    ),
  );
  for (const p of projects) {
    const files = byProject.get(p)!.sort((x, y) => (x.file < y.file ? -1 : 1));
    out.push(
      textEntry(
        `simple/${p}/index.html`,
        page(
          `Links for ${p}`,
          files.map((f) => link(`../../wheels/${f.file}#sha256=${f.hex}`, f.file)),
        ),
        HTML,
      ),
    );
  }
  const all = [...byProject.values()].flat().sort((x, y) => (x.file < y.file ? -1 : 1));
  out.push(
    textEntry(
      'wheels/index.html',
      page(
        'Wheels',
        all.map((f) => link(`${f.file}#sha256=${f.hex}`, f.file)),
      ),
      HTML,
    ),
  );
  if (b.sums.list.has(LOCK)) out.push(bundleEntry(b, LOCK, LOCK, 'text/plain; charset=utf-8'));
  return out;
}

function link(href: string, text: string): string {
  return `    <a href="${escapeHtml(encodeURI(href))}">${escapeHtml(text)}</a><br/>`;
}

function page(title: string, lines: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.0">',
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
    ...lines,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}
