/**
 * A small XML reader for tool outputs (nvidia-smi -q -x) and for checking what we write (JUnit): elements,
 * attributes, text, CDATA, comments, the prolog and a DOCTYPE (skipped, never fetched). Strict about
 * nesting: a mismatched or unclosed tag throws, so tests can use it as a well-formedness check.
 */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`unknown XML entity ${m}`);
    return v;
  });
}

export function parseXml(src: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  let i = 0;
  const top = () => stack[stack.length - 1]!;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textEnd = lt === -1 ? src.length : lt;
    if (textEnd > i) {
      const t = src.slice(i, textEnd);
      if (stack.length === 1) {
        if (t.trim()) throw new Error('text outside the root element');
      } else top().text += decodeEntities(t);
    }
    if (lt === -1) break;
    if (src.startsWith('<?', lt)) i = end(src, '?>', lt);
    else if (src.startsWith('<!--', lt)) i = end(src, '-->', lt);
    else if (src.startsWith('<![CDATA[', lt)) {
      const e = end(src, ']]>', lt);
      top().text += src.slice(lt + 9, e - 3);
      i = e;
    } else if (src.startsWith('<!', lt)) i = skipDoctype(src, lt);
    else if (src.startsWith('</', lt)) {
      const e = end(src, '>', lt);
      const name = src.slice(lt + 2, e - 1).trim();
      const open = stack.pop();
      if (!open || open === root || open.name !== name) throw new Error(`unexpected </${name}> at ${lt}`);
      i = e;
    } else {
      const e = tagEnd(src, lt);
      const raw = src.slice(lt + 1, e - 1);
      const selfClose = raw.endsWith('/');
      const body = selfClose ? raw.slice(0, -1) : raw;
      const m = /^([A-Za-z_][\w.:-]*)/.exec(body);
      if (!m) throw new Error(`bad tag at ${lt}`);
      const node: XmlNode = { name: m[1]!, attrs: parseAttrs(body.slice(m[1]!.length), lt), children: [], text: '' };
      if (stack.length === 1 && root.children.length > 0) throw new Error('more than one root element');
      top().children.push(node);
      if (!selfClose) stack.push(node);
      i = e;
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${top().name}>`);
  const doc = root.children[0];
  if (!doc) throw new Error('no root element');
  return doc;
}

function end(src: string, marker: string, from: number): number {
  const e = src.indexOf(marker, from);
  if (e === -1) throw new Error(`unterminated markup at ${from}`);
  return e + marker.length;
}

function tagEnd(src: string, from: number): number {
  let q: string | undefined;
  for (let j = from + 1; j < src.length; j++) {
    const c = src[j]!;
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '<') throw new Error(`"<" inside a tag at ${j}`);
    else if (c === '>') return j + 1;
  }
  throw new Error(`unterminated tag at ${from}`);
}

function skipDoctype(src: string, from: number): number {
  let depth = 0;
  for (let j = from + 2; j < src.length; j++) {
    if (src[j] === '[') depth++;
    else if (src[j] === ']') depth--;
    else if (src[j] === '>' && depth <= 0) return j + 1;
  }
  throw new Error('unterminated DOCTYPE');
}

function parseAttrs(s: string, at: number): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s))) {
    if (m[1]! in attrs) throw new Error(`duplicate attribute ${m[1]} at ${at}`);
    const v = m[3] ?? m[4] ?? '';
    if (v.includes('<')) throw new Error(`"<" in attribute ${m[1]} at ${at}`);
    attrs[m[1]!] = decodeEntities(v);
    pos = re.lastIndex;
  }
  if (s.slice(pos).trim()) throw new Error(`bad attributes at ${at}: ${JSON.stringify(s.slice(pos).trim())}`);
  return attrs;
}

/** The first child element by path (`a/b/c`). */
export function child(n: XmlNode | undefined, path: string): XmlNode | undefined {
  let cur = n;
  for (const p of path.split('/')) cur = cur?.children.find((c) => c.name === p);
  return cur;
}

/** Trimmed text at a path; undefined when absent or "N/A" / "Not Supported". */
export function textAt(n: XmlNode | undefined, path: string): string | undefined {
  const t = child(n, path)?.text.trim();
  if (t === undefined || t === '' || /^(N\/A|\[N\/A\]|Not Supported|\[Not Supported\]|Unknown Error)$/i.test(t)) return undefined;
  return t;
}

/** Leading number of a value with a unit ("143771 MiB", "700.00 W", "16x", "-8 C"). */
export function numAt(n: XmlNode | undefined, path: string): number | undefined {
  const t = textAt(n, path);
  const m = t ? /^-?\d+(\.\d+)?/.exec(t) : null;
  return m ? Number(m[0]) : undefined;
}

/** Escapes text for element content and attribute values; drops characters XML 1.0 forbids. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
