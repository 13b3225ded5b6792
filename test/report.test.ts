import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import type { BundleIndex } from '../src/bundle/index.js';
import { reportPage } from '../src/report/page.js';
import { CSS, JS } from '../src/report/assets.js';
import { readAudit } from '../src/report/audit.js';
import { escapeHtml, html } from '../src/report/escape.js';
import type { Locked } from '../src/sources/source.js';
import type { Digest } from '../src/store/digest.js';
import { UsageError } from '../src/util/errors.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

const execFile = promisify(execFileCb);
const digest = (s: string): Digest => `sha256:${createHash('sha256').update(s).digest('hex')}`;

const XSS_NAME = '<img src=x onerror="document.title=\'pwned\'">';
const XSS_LICENSE = '</td><script>document.title="pwned"</script>';

function art(kind: Locked['kind'], name: string, version: string, license?: string): Locked {
  return {
    kind,
    id: `${kind}:${name}@${version}`,
    name,
    version,
    digest: digest(`${kind}${name}${version}`),
    size: 1000 + name.length,
    url: `https://example.org/${encodeURIComponent(name)}`,
    purl:
      kind === 'apt'
        ? `pkg:deb/debian/${encodeURIComponent(name)}@${version}?arch=amd64`
        : `pkg:${kind === 'pip' ? 'pypi' : 'generic'}/${encodeURIComponent(name)}@${version}`,
    provenance: { kind: 'index-hash', index: 'https://example.org' },
    ...(license ? { meta: { license } } : {}),
  };
}

function bundleIndex(version: string, artifacts: Locked[]): BundleIndex {
  return {
    schema: 'vault-bundle/v1',
    name: 'review',
    version,
    description: 'report <fixture> & "quotes"',
    created: '2026-11-30T00:00:00.000Z',
    tool: { name: 'vault-bundle', version: '0.1.0' },
    manifest: { path: 'review.yaml', inputsDigest: digest('m') },
    target: { os: 'ubuntu-24.04', arch: 'amd64', python: '3.12' },
    artifacts,
  };
}

const COMPONENTS = [
  art('apt', 'jq', '1.7.1-6'),
  art('apt', 'libjq1', '1.7.1-6'),
  art('apt', 'libonig5', '6.9.9-1'),
  art('apt', 'libc6', '2.41-12'),
  art('pip', 'numpy', '2.1.3', 'BSD-3-Clause'),
  art('pip', 'requests', '2.32.3', 'Apache-2.0'),
  art('pip', 'idna', '3.10', 'BSD'),
  art('pip', 'torch', '2.5.1+cu124', 'BSD-3-Clause'),
  art('pip', XSS_NAME, '1.0"><script>document.title="pwned"</script>', XSS_LICENSE),
  art('file', 'keyring', '2024.1', 'GPL-2.0-or-later'),
];

/** A bundle folder as far as the report reads it (bundle.json listed in SHA256SUMS; SHA256SUMS.asc when signed). */
async function writeBundle(dir: string, index: BundleIndex, o: { signed?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(index, null, 2)}\n`;
  await writeFile(join(dir, 'bundle.json'), text);
  await writeFile(join(dir, 'SHA256SUMS'), `${createHash('sha256').update(text).digest('hex')}  bundle.json\n`);
  if (o.signed) await writeFile(join(dir, 'SHA256SUMS.asc'), '-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n');
  return dir;
}

const b64 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');

describe('report page', () => {
  it('escapes everything from upstream metadata and loads nothing from outside', async () => {
    const dir = await tempDir();
    const r = await reportPage({ bundle: await writeBundle(join(dir, 'b'), bundleIndex('2.0.0', COMPONENTS)), now: new Date('2026-12-01T00:00:00Z') });
    const page = r.html;
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).not.toMatch(/<img/i);
    expect(page).not.toContain('document.title="pwned"</script>');
    expect(page).toContain(escapeHtml(XSS_NAME));
    expect(page).toContain('report &lt;fixture&gt; &amp; &quot;quotes&quot;');
    // No external asset of any kind: no src/href to anywhere, no CSS import or url().
    const tags = page.replace(/"[^"]*"/g, '""').match(/<[a-z][^>]*>/gi) ?? [];
    expect(tags.filter((t) => /\s(src|href|srcset|action|data)\s*=/i.test(t))).toEqual([]);
    expect(page).not.toMatch(/@import|url\(/i);
    // A strict CSP that allows exactly the page's own style and script.
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)?.[1]?.replaceAll('&#39;', "'");
    expect(csp).toContain(`default-src 'none'; style-src 'sha256-${b64(CSS)}'; script-src 'sha256-${b64(JS)}'`);
    expect(page).toContain(`<style>${CSS}</style>`);
    expect(page).toContain(`<script>${JS}</script>`);
    expect(r.components).toBe(10);
    expect(page.match(/<tr data-search=/g)).toHaveLength(10);
    expect(page).toContain('id="signature" data-state="unsigned"');
    expect(page).toContain('6 of 10 components name a license in their metadata (');
    expect(page).toMatch(/\(\d+ as SPDX expressions\); 4 do not\./);
  });

  it('the html template escapes interpolations', () => {
    const v = '"><b>x</b>&\'`';
    expect(html`<a title="${v}">${v}</a>`.text).toBe(
      '<a title="&quot;&gt;&lt;b&gt;x&lt;/b&gt;&amp;&#39;&#96;">&quot;&gt;&lt;b&gt;x&lt;/b&gt;&amp;&#39;&#96;</a>',
    );
    expect(html`${[html`<i>${'<'}</i>`, '<']}`.text).toBe('<i>&lt;</i>&lt;');
  });

  it('signature status: unsigned, present, and checked through the verify hook with --key', async () => {
    const dir = await tempDir();
    const plain = await writeBundle(join(dir, 'plain'), bundleIndex('1.0.0', COMPONENTS.slice(0, 2)));
    const signed = await writeBundle(join(dir, 'signed'), bundleIndex('1.0.0', COMPONENTS.slice(0, 2)), { signed: true });
    expect((await reportPage({ bundle: plain })).signature).toEqual({ state: 'unsigned', text: 'unsigned (no SHA256SUMS.asc)' });
    expect((await reportPage({ bundle: signed })).signature).toEqual({ state: 'present', text: 'signed (SHA256SUMS.asc present; verify with --key)' });
    const seen: string[] = [];
    const good = await reportPage({
      bundle: signed,
      key: 'release.pub',
      checkSignature: async (b, key) => {
        seen.push(`${b.index.name} ${key}`);
        return { ok: true, signer: 'ABCDEF0123456789' };
      },
    });
    expect(seen).toEqual(['review release.pub']);
    expect(good.signature).toMatchObject({ state: 'valid', signer: 'ABCDEF0123456789' });
    expect(good.html).toContain(
      'data-state="valid">signature valid, signed by ABCDEF0123456789 (key release.pub): it covers SHA256SUMS, which bundle.json match',
    );
    const bad = await reportPage({
      bundle: signed,
      key: 'release.pub',
      checkSignature: async () => ({ ok: false, message: 'SHA256SUMS changed after it was signed' }),
    });
    expect(bad.signature.state).toBe('invalid');
    expect(bad.html).toContain('class="badge bad"');
  });

  it('report --key checks a real signature with the verify code: valid, then invalid once SHA256SUMS changed', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    await buildIn(dir, manifest);
    const b = join(dir, 'out');
    const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name: 'Release', email: 'release@test.invalid' }], format: 'armored' });
    await writeFile(join(dir, 'release.sec.asc'), privateKey);
    await writeFile(join(dir, 'release.asc'), publicKey);
    const fingerprint = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase();
    expect((await runCli(['sign', b, '--key', join(dir, 'release.sec.asc')])).code).toBe(0);
    const good = await runCli(['report', b, '--key', join(dir, 'release.asc'), '-o', join(dir, 'r.html')]);
    expect(good.stdout).toContain(`signature valid, signed by ${fingerprint}`);
    await writeFile(join(b, 'SHA256SUMS'), `${await readFile(join(b, 'SHA256SUMS'), 'utf8')}${'0'.repeat(64)}  extra\n`);
    const bad = await reportPage({ bundle: b, key: join(dir, 'release.asc') });
    expect(bad.signature).toMatchObject({ state: 'invalid', signer: fingerprint });
    expect(bad.signature.text).toMatch(/^signature INVALID: .*changed after it was signed/);
    const nokey = await runCli(['report', b, '--key', join(dir, 'missing.asc')]);
    expect(nokey.code).toBe(64);
    // With no SHA256SUMS, nothing vouches for bundle.json: no report at all, an integrity error (exit 4).
    await rm(join(b, 'SHA256SUMS'));
    const orphan = await runCli(['report', b, '--key', join(dir, 'release.asc'), '-o', join(dir, 'r2.html')]);
    expect(orphan.code).toBe(4);
    expect(orphan.stderr).toMatch(/^error: .*SHA256SUMS is missing, so bundle\.json cannot be checked/m);
  });

  it('audit findings: a JSON array, an object with findings, or JSON lines; anything else is a usage error', async () => {
    const dir = await tempDir();
    const findings = [
      { id: 'CVE-2024-0002', severity: 'LOW', package: 'idna', summary: 'minor' },
      { id: 'CVE-2024-0001', severity: 'critical', package: 'jq', version: '1.7.1-6', summary: '<b>overflow</b>' },
      { id: 'CVE-2024-0003', severity: 'high', package: 'jq', version: '1.6-2.1', summary: 'old version only' },
    ];
    await writeFile(join(dir, 'a.json'), JSON.stringify(findings));
    await writeFile(join(dir, 'o.json'), JSON.stringify({ findings }));
    await writeFile(join(dir, 'l.jsonl'), `{"type":"phase"}\n${JSON.stringify({ type: 'result', findings })}\n`);
    for (const f of ['a.json', 'o.json', 'l.jsonl']) {
      expect((await readAudit(join(dir, f))).map((x) => `${x.severity} ${x.id}`)).toEqual([
        'critical CVE-2024-0001',
        'high CVE-2024-0003',
        'low CVE-2024-0002',
      ]);
    }
    await writeFile(join(dir, 'bad.json'), JSON.stringify([{ id: 'x' }]));
    await expect(readAudit(join(dir, 'bad.json'))).rejects.toThrow(UsageError);
    await expect(readAudit(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'BAD_FLAG' });

    const b = await writeBundle(join(dir, 'b'), bundleIndex('1.0.0', COMPONENTS));
    const r = await reportPage({ bundle: b, audit: join(dir, 'a.json') });
    expect(r.findings).toBe(3);
    expect(r.html).toContain('3 finding(s) (1 critical, 1 high, 1 low)');
    expect(r.html).toContain('&lt;b&gt;overflow&lt;/b&gt;');
    // jq 1.7.1-6 has one finding (the other names another version); idna one.
    expect(r.html).toMatch(/data-key="apt:jq@1\.7\.1-6"[\s\S]*?<td class="num" data-v="1"><span class="sev-critical">1<\/span>/);
    const cli = await runCli(['report', b, '--audit', join(dir, 'bad.json')]);
    expect(cli.code).toBe(64);
    expect(cli.stderr).toMatch(/^error: --audit .*bad\.json: 0\.package: missing \(a finding needs a string there\)$/m);
    // Some other JSON file (package.json): named for what it is, not zod's "received undefined".
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0' }));
    const pj = await runCli(['report', b, '--audit', join(dir, 'package.json')]);
    expect(pj.code).toBe(64);
    expect(pj.stderr).toMatch(/^error: --audit .*package\.json: not audit findings: a JSON object without a "findings" array$/m);
    expect(pj.stderr).not.toContain('undefined');
  });
});

describe('vault-bundle report', () => {
  it('writes one HTML page to stdout or --out, adds the diff with --base; a missing bundle exits 64', async () => {
    const dir = await tempDir();
    const old = await writeBundle(join(dir, 'old'), bundleIndex('1.0.0', [art('apt', 'jq', '1.6-2.1'), art('apt', 'gone', '1.0'), ...COMPONENTS.slice(4, 6)]));
    const neu = await writeBundle(join(dir, 'new'), bundleIndex('2.0.0', COMPONENTS));
    const s = await runCli(['report', neu]);
    expect(s.code).toBe(0);
    expect(s.stdout.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(s.stdout).not.toContain('id="diff"');
    const o = await runCli(['report', neu, '--base', old, '-o', join(dir, 'report.html')]);
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(/^wrote .*report\.html: review 2\.0\.0, 10 components; unsigned/m);
    const page = await readFile(join(dir, 'report.html'), 'utf8');
    expect(page).toContain('<h2 id="diff">Changes since review 1.0.0</h2>');
    expect(page).toMatch(/<table id="diff-upgraded">[\s\S]*?<td>jq<\/td><td class="mono">1\.6-2\.1<\/td><td class="mono">1\.7\.1-6<\/td>/);
    expect(page).toMatch(/<table id="diff-removed">[\s\S]*?<td>gone<\/td>/);
    const j = await runCli(['--json', 'report', neu, '--base', old]);
    expect(JSON.parse(j.stdout)).toMatchObject({ type: 'result', name: 'review', components: 10, diff: { upgraded: 1, removed: 1, added: 7 } });
    const missing = await runCli(['report', join(dir, 'nope')]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toMatch(/no such bundle folder or tar file/);
  });
});

// Headless Chromium (Debian's chromium package). CI needs it installed (apt-get install chromium) for these.
const CHROMIUM = (() => {
  const r = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
})();
const NO_CHROMIUM = 'chromium is not installed (apt-get install chromium)';

async function chromium(dir: string, args: string[]): Promise<string> {
  const { stdout } = await execFile(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', `--user-data-dir=${join(dir, 'profile')}`, ...args],
    { timeout: 60_000, maxBuffer: 1 << 26 },
  );
  return stdout;
}

/** Width, height and inflated pixel rows of a PNG (8-bit RGB or RGBA, as Chromium writes). */
function png(buf: Buffer): { width: number; height: number; raw: Buffer } {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const type = buf.subarray(at + 4, at + 8).toString('latin1');
    const data = buf.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  return { width, height, raw: inflateSync(Buffer.concat(idat)) };
}

/** Rows of the components table as the browser left them: [visible, hidden]. */
function tableRows(dom: string): { visible: number; hidden: number; table: string } {
  const table = /<table id="components"[^>]*>/.exec(dom)?.[0] ?? '';
  const rows = [...dom.matchAll(/<tr data-search="[^"]*"[^>]*>/g)].map((m) => m[0]);
  const hidden = rows.filter((r) => /\shidden(=""|\s|>)/.test(r)).length;
  return { visible: rows.length - hidden, hidden, table };
}

describe('report in headless Chromium', () => {
  if (!CHROMIUM) console.warn(`report.test.ts: skipping the headless Chromium checks: ${NO_CHROMIUM}`);

  it.skipIf(!CHROMIUM)(
    'renders the components table (screenshot), and #q= filters its rows after the page script ran',
    async () => {
      const dir = await tempDir();
      const bundle = await writeBundle(join(dir, 'b'), bundleIndex('2.0.0', COMPONENTS));
      const file = join(dir, 'report.html');
      await writeFile(file, (await reportPage({ bundle })).html);
      const url = `file://${file}`;

      const shot = join(dir, 'shot.png');
      await chromium(dir, [`--screenshot=${shot}`, '--window-size=1200,900', url]);
      const img = png(await readFile(shot));
      expect([img.width, img.height]).toEqual([1200, 900]);
      // Not a blank page: many distinct byte values, and rows of pixels that differ.
      expect(new Set(img.raw).size).toBeGreaterThan(64);
      const stride = img.raw.length / img.height;
      const rowsSeen = new Set<string>();
      for (let y = 0; y < img.height; y += 10)
        rowsSeen.add(
          createHash('sha1')
            .update(img.raw.subarray(y * stride + 1, (y + 1) * stride))
            .digest('hex'),
        );
      expect(rowsSeen.size).toBeGreaterThan(30);

      const all = await chromium(dir, ['--dump-dom', url]);
      expect(all).toMatch(/<html[^>]*data-ready="true"/);
      expect(tableRows(all)).toMatchObject({ visible: 10, hidden: 0 });
      expect(all).toContain('<span id="count">10 of 10 components</span>');
      // The escaped hostile name stayed text: no element was made of it, and its handler never ran.
      expect(all).not.toMatch(/<img/i);
      expect(all).toContain('<title>review 2.0.0 — bundle report</title>');

      const jq = await chromium(dir, ['--dump-dom', `${url}#q=jq`]);
      expect(tableRows(jq)).toMatchObject({ visible: 2, hidden: 8 });
      expect(tableRows(jq).table).toContain('data-visible="2"');
      expect(jq).toContain('<span id="count">2 of 10 components</span>');
      expect(jq).toMatch(/<tr data-search="apt jq [^"]*" data-key="apt:jq@1\.7\.1-6">/);

      const two = await chromium(dir, ['--dump-dom', `${url}#q=${encodeURIComponent('pip bsd-3')}`]);
      expect(tableRows(two)).toMatchObject({ visible: 2, hidden: 8 }); // numpy and torch
    },
    120_000,
  );
});
