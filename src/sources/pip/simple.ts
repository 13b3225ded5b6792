import type { BuildCtx } from '../source.js';
import { UpstreamError } from '../../util/errors.js';

/** One distribution file a simple index lists for a project (PEP 503 / PEP 691). */
export interface IndexFile {
  filename: string;
  url: string;
  sha256?: string;
  /** PEP 700 size in bytes, when the index says. */
  size?: number;
  requiresPython?: string;
  yanked: boolean;
  /** PEP 658/714: the index serves `<url>.metadata`; its sha256 when given. */
  metadata: false | { sha256?: string };
  /** Which index listed it. */
  index: string;
}

const MAX_PAGE = 64 << 20;
const ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01';

/**
 * Lists a project's files on a simple repository: PEP 691 JSON when the server offers it, else the PEP 503
 * HTML page. A project an index does not have is an empty list (the next index may have it).
 */
export async function listProject(index: string, project: string, ctx: BuildCtx): Promise<IndexFile[]> {
  const base = index.endsWith('/') ? index : `${index}/`;
  const url = `${base}${project}/`;
  let res;
  try {
    res = await ctx.http.get(url, { headers: { accept: ACCEPT }, signal: ctx.signal, maxLength: MAX_PAGE, subject: `pip:${project}` });
  } catch (err) {
    if (err instanceof UpstreamError && err.code === 'NOT_FOUND') return [];
    throw err;
  }
  const parts: Uint8Array[] = [];
  for await (const c of res.body) parts.push(c);
  const body = Buffer.concat(parts).toString('utf8');
  const type = String(res.headers['content-type'] ?? '');
  const pageUrl = url;
  if (type.includes('application/vnd.pypi.simple.v1+json') || type.includes('application/json')) {
    return fromJson(JSON.parse(body) as Pep691Page, pageUrl, index);
  }
  return fromHtml(body, pageUrl, index);
}

interface Pep691Page {
  files?: {
    filename: string;
    url: string;
    hashes?: Record<string, string>;
    'requires-python'?: string | null;
    yanked?: boolean | string;
    'core-metadata'?: boolean | Record<string, string>;
    'dist-info-metadata'?: boolean | Record<string, string>;
    size?: number;
  }[];
}

function fromJson(page: Pep691Page, pageUrl: string, index: string): IndexFile[] {
  return (page.files ?? []).map((f) => {
    const meta = f['core-metadata'] ?? f['dist-info-metadata'] ?? false;
    return {
      filename: f.filename,
      url: new URL(f.url, pageUrl).href,
      ...(f.hashes?.sha256 ? { sha256: f.hashes.sha256.toLowerCase() } : {}),
      ...(typeof f.size === 'number' ? { size: f.size } : {}),
      ...(f['requires-python'] ? { requiresPython: f['requires-python'] } : {}),
      yanked: Boolean(f.yanked),
      metadata: meta === false ? false : typeof meta === 'object' && meta.sha256 ? { sha256: meta.sha256 } : {},
      index,
    };
  });
}

const decode = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");

/** PEP 503: anchors whose text is the filename; `#sha256=` fragment; data-requires-python, data-yanked, data-core-metadata. */
function fromHtml(html: string, pageUrl: string, index: string): IndexFile[] {
  const out: IndexFile[] = [];
  for (const m of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/gi)) {
    const attrs = new Map<string, string>();
    for (const a of m[1]!.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs.set(a[1]!.toLowerCase(), decode(a[2] ?? a[3] ?? ''));
    for (const a of m[1]!.matchAll(/(?:^|\s)(data-yanked)(?=\s|$)/g)) attrs.set(a[1]!, '');
    const href = attrs.get('href');
    if (!href) continue;
    const abs = new URL(href, pageUrl);
    const frag = /^#?sha256=([0-9a-f]{64})$/i.exec(abs.hash);
    abs.hash = '';
    const meta = attrs.get('data-core-metadata') ?? attrs.get('data-dist-info-metadata');
    const metaHash = meta ? /^sha256=([0-9a-f]{64})$/i.exec(meta)?.[1] : undefined;
    out.push({
      filename: decode(m[2]!.trim()),
      url: abs.href,
      ...(frag ? { sha256: frag[1]!.toLowerCase() } : {}),
      ...(attrs.get('data-requires-python') ? { requiresPython: attrs.get('data-requires-python')! } : {}),
      yanked: attrs.has('data-yanked'),
      metadata: meta === undefined ? false : metaHash ? { sha256: metaHash.toLowerCase() } : {},
      index,
    });
  }
  return out;
}
