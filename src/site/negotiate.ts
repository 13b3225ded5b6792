/**
 * PEP 691 content negotiation of the simple index (`/simple/`, `/simple/<project>/`): the JSON form
 * (`application/vnd.pypi.simple.v1+json`), the HTML form under its versioned name, or plain `text/html`, the
 * default. pip asks `application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html;
 * q=0.01` and gets JSON; a browser or curl (`*∕*`) gets HTML. An Accept that allows none of the three also gets
 * HTML (PEP 691 lets a server answer its default instead of 406). `?format=<type>` (PEP 691's optional URL
 * parameter) wins over the header.
 */
export const PYPI_JSON = 'application/vnd.pypi.simple.v1+json';
export const PYPI_HTML = 'application/vnd.pypi.simple.v1+html';
export const HTML = 'text/html; charset=utf-8';

export type SimpleForm = 'json' | 'v1html' | 'html';

/** The three forms and the media types that name each (PEP 691's `latest` aliases included), in the order ties go. */
const FORMS: { form: SimpleForm; names: string[] }[] = [
  { form: 'html', names: ['text/html'] },
  { form: 'v1html', names: [PYPI_HTML, 'application/vnd.pypi.simple.latest+html'] },
  { form: 'json', names: [PYPI_JSON, 'application/vnd.pypi.simple.latest+json'] },
];

export function simpleForm(accept: string | undefined, format?: string | null): SimpleForm {
  if (format) {
    const f = format.trim().toLowerCase();
    const hit = FORMS.find((x) => x.names.includes(f));
    if (hit) return hit.form;
  }
  if (!accept) return 'html';
  const ranges = parseAccept(accept);
  let best: SimpleForm = 'html';
  let bestQ = 0;
  for (const { form, names } of FORMS) {
    const q = Math.max(...names.map((n) => qualityOf(n, ranges)));
    if (q > bestQ) {
      best = form;
      bestQ = q;
    }
  }
  return best;
}

interface Range {
  type: string;
  sub: string;
  q: number;
}

/** At most 32 ranges of at most 256 characters are read: a header is data from anyone. */
function parseAccept(accept: string): Range[] {
  const out: Range[] = [];
  for (const part of accept.split(',').slice(0, 32)) {
    const [media, ...params] = part.slice(0, 256).split(';');
    const m = /^\s*([\w.+*-]+)\/([\w.+*-]+)\s*$/.exec(media ?? '');
    if (!m) continue;
    let q = 1;
    for (const p of params) {
      const qm = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (qm) q = Math.min(1, Number(qm[1]));
    }
    out.push({ type: m[1]!.toLowerCase(), sub: m[2]!.toLowerCase(), q });
  }
  return out;
}

/** RFC 9110 12.5.1: the most specific range that matches a media type gives its quality; none matching, 0. */
function qualityOf(media: string, ranges: readonly Range[]): number {
  const [type, sub] = media.split('/') as [string, string];
  let spec = -1;
  let q = 0;
  for (const r of ranges) {
    const s = r.type === type && r.sub === sub ? 2 : r.type === type && r.sub === '*' ? 1 : r.type === '*' && r.sub === '*' ? 0 : -1;
    if (s > spec) {
      spec = s;
      q = r.q;
    }
  }
  return q;
}
