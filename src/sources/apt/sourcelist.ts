import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One apt source as sources.list(5) describes it (one-line or deb822 form). */
export interface RepoSource {
  /** Where it was read from, for messages: a file of the host, or the manifest. */
  from: string;
  uri: string;
  suites: string[];
  components: string[];
  architectures?: string[];
  /** Keyring file paths and/or fingerprints, as in `Signed-By`; or an inline armoured key. */
  signedBy: string[];
  checkValidUntil: boolean;
  /** apt's Check-Date (default yes): a Release dated in the future is refused; no also skips Valid-Until. */
  checkDate: boolean;
  pin?: number;
}

/**
 * Reads the host's apt sources: deb822 `/etc/apt/sources.list.d/*.sources` and one-line `sources.list` /
 * `*.list`. Only `deb` (binary) entries count; disabled entries (`Enabled: no`) are skipped.
 */
export async function readSystemSources(etc = '/etc/apt'): Promise<RepoSource[]> {
  const out: RepoSource[] = [];
  const dir = join(etc, 'sources.list.d');
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    names = [];
  }
  const listFiles = [join(etc, 'sources.list'), ...names.filter((n) => n.endsWith('.list')).map((n) => join(dir, n))];
  for (const f of listFiles) {
    const text = await readFile(f, 'utf8').catch(() => undefined);
    if (text !== undefined) out.push(...parseOneLine(text, f));
  }
  for (const n of names.filter((x) => x.endsWith('.sources'))) {
    const f = join(dir, n);
    out.push(...parseDeb822Sources(await readFile(f, 'utf8'), f));
  }
  return out;
}

/** sources.list(5) "ONE-LINE-STYLE FORMAT": `deb [opt=val ...] uri suite [component ...]`. */
export function parseOneLine(text: string, from: string): RepoSource[] {
  const out: RepoSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m || m[1] !== 'deb') continue;
    const opts = new Map<string, string>();
    for (const kv of (m[2] ?? '').trim().split(/\s+/).filter(Boolean)) {
      const [k, v = ''] = kv.split('=');
      opts.set(k!.toLowerCase(), v);
    }
    out.push({
      from,
      uri: m[3]!.replace(/\/+$/, ''),
      suites: [m[4]!],
      components: (m[5] ?? '').split(/\s+/).filter(Boolean),
      ...(opts.has('arch') ? { architectures: opts.get('arch')!.split(',') } : {}),
      signedBy: opts.has('signed-by') ? opts.get('signed-by')!.split(',') : [],
      checkValidUntil: opts.get('check-valid-until') !== 'no',
      checkDate: opts.get('check-date') !== 'no',
    });
  }
  return out;
}

/** sources.list(5) "DEB822-STYLE FORMAT": stanzas with Types, URIs, Suites, Components, Signed-By, … */
export function parseDeb822Sources(text: string, from: string): RepoSource[] {
  const out: RepoSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    let key = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^\s/.test(line) && key) {
        f.set(key, `${f.get(key)}\n${line.trim() === '.' ? '' : line.trim()}`);
        continue;
      }
      const i = line.indexOf(':');
      if (i <= 0) continue;
      key = line.slice(0, i).trim().toLowerCase();
      f.set(key, line.slice(i + 1).trim());
    }
    if (!f.has('uris') || !(f.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (/^no$/i.test(f.get('enabled') ?? '')) continue;
    const words = (k: string) => (f.get(k) ?? '').split(/\s+/).filter(Boolean);
    const signed = f.get('signed-by') ?? '';
    for (const uri of words('uris')) {
      out.push({
        from,
        uri: uri.replace(/\/+$/, ''),
        suites: words('suites'),
        components: words('components'),
        ...(f.has('architectures') ? { architectures: words('architectures') } : {}),
        signedBy: signed.includes('BEGIN PGP PUBLIC KEY BLOCK') ? [signed] : signed.split(/[\s,]+/).filter(Boolean),
        checkValidUntil: !/^no$/i.test(f.get('check-valid-until') ?? ''),
        checkDate: !/^no$/i.test(f.get('check-date') ?? ''),
      });
    }
  }
  return out;
}
