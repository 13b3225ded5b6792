import { createHash } from 'node:crypto';
import { formatBytes } from '../util/format.js';
import type { BundleIndex } from '../bundle/index.js';
import { installText } from '../sbom/install.js';
import { type LicenseSummary, normalizeLicense } from '../sbom/licenses.js';
import { CSS, JS } from './assets.js';
import { type AuditFinding, severityRank } from './audit.js';
import { signedBytes } from './changelog.js';
import type { Component } from './components.js';
import type { BundleDiff, DiffEntry } from './diff.js';
import { type Html, html, trusted } from './escape.js';
import type { SignatureStatus } from './signature.js';

/** Everything one report page shows. */
export interface ReportData {
  location: string;
  form: 'dir' | 'tar' | 'split';
  index: BundleIndex;
  indexSha256: string;
  signature: SignatureStatus;
  components: Component[];
  licenses: LicenseSummary;
  audit?: { source: string; findings: AuditFinding[] };
  diff?: BundleDiff;
  /** When the report was made (ISO). */
  generated: string;
}

const sha256b64 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');

/**
 * One self-contained HTML page: no external asset, inline CSS and JS allowed by hash in its
 * Content-Security-Policy, every value from the bundle escaped.
 */
export function renderReport(d: ReportData): string {
  const csp = `default-src 'none'; style-src 'sha256-${sha256b64(CSS)}'; script-src 'sha256-${sha256b64(JS)}'; img-src data:; base-uri 'none'; form-action 'none'`;
  const { index: ix } = d;
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${ix.tool.name} ${ix.tool.version}">
<title>${ix.name} ${ix.version} \u2014 bundle report</title>
<style>${trusted(CSS)}</style>
</head>
<body>
<h1>${ix.name} ${ix.version}</h1>
<p class="sub">${ix.description ?? ''}${ix.description ? ' \u2014 ' : ''}bundle report for the security reviewer</p>
${metadata(d)}
${componentsTable(d)}
${licenses(d.licenses)}
${audit(d)}
${d.diff ? diffSection(d.diff) : ''}
<footer>Made by ${ix.tool.name} ${ix.tool.version} on ${d.generated} from ${d.location}. One self-contained file: no external assets.</footer>
<script>${trusted(JS)}</script>
</body>
</html>
`;
  return page.text;
}

function metadata(d: ReportData): Html {
  const ix = d.index;
  const t = ix.target;
  const sigClass = d.signature.state === 'valid' ? 'ok' : d.signature.state === 'invalid' ? 'bad' : d.signature.state === 'unsigned' ? 'warn' : 'muted';
  const bytes = ix.artifacts.reduce((n, a) => n + a.size, 0);
  const runtime = d.components.filter((c) => c.kind === 'runtime').reduce((n, c) => n + c.size, 0);
  const kinds = new Map<string, number>();
  for (const c of d.components) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  const special = d.components.filter((c) => c.install?.flags.length);
  return html`<h2 id="metadata">Bundle</h2>
<dl class="meta">
<dt>name</dt><dd>${ix.name}</dd>
<dt>version</dt><dd>${ix.version}</dd>
<dt>created</dt><dd>${ix.created}</dd>
<dt>built by</dt><dd>${ix.tool.name} ${ix.tool.version}</dd>
<dt>target</dt><dd>${t.os} ${t.arch}${t.python ? ` python ${t.python}` : ''}${t.probe ? ` (probe of ${t.probe.hostname}, ${t.probe.created})` : ''}</dd>
<dt>manifest</dt><dd class="mono">${ix.manifest.path} (${ix.manifest.inputsDigest})</dd>
<dt>bundle.json</dt><dd class="mono">sha256:${d.indexSha256}</dd>
<dt>form</dt><dd>${d.form === 'dir' ? 'folder' : d.form === 'tar' ? 'tar file' : 'split folder (parts.json)'}</dd>
<dt>contents</dt><dd>${d.components.length} components (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}): ${ix.artifacts.length} artifacts, ${formatBytes(bytes)}${runtime ? `; the carried runtime, ${formatBytes(runtime)}` : ''}</dd>
${ix.base ? html`<dt>delta over</dt><dd>${ix.base.name} ${ix.base.version} (${ix.base.blobs.length} blobs come from it; bundle.json ${ix.base.index})</dd>` : ''}
<dt>signature</dt><dd><span class="badge ${sigClass}" id="signature" data-state="${d.signature.state}">${d.signature.text}</span></dd>
${special.length ? html`<dt class="bad">special modes</dt><dd><ul class="compact" id="special-modes">${special.map((c) => html`<li class="bad"><b>${c.name}</b> installs to <span class="mono">${installText(c.install!)}</span></li>`)}</ul></dd>` : ''}
</dl>`;
}

function componentsTable(d: ReportData): Html {
  const findings = new Map<string, AuditFinding[]>();
  for (const f of d.audit?.findings ?? []) findings.set(f.package, [...(findings.get(f.package) ?? []), f]);
  const hits = (c: Component) => (findings.get(c.name) ?? []).filter((f) => f.version === undefined || f.version === c.version);
  const rows = d.components.map((c) => {
    const lic = c.license ? normalizeLicense(c.license) : undefined;
    const h = hits(c);
    const inst = c.install;
    const search = [c.kind, c.name, c.version, c.license ?? 'unknown', lic?.spdx ?? '', c.purl, inst?.dest ?? '', inst?.mode ?? '', ...(inst?.flags ?? [])]
      .join(' ')
      .toLowerCase();
    return html`<tr data-search="${search}" data-key="${c.key}">
<td>${c.kind}</td><td>${c.name}${inst ? html`<br><span class="${inst.flags.length ? 'mono bad install' : 'mono muted install'}">\u2192 ${installText(inst)}</span>` : ''}</td><td class="mono ver">${c.version}</td>
<td>${lic ? html`${lic.spdx}${lic.listed ? '' : html` <span class="muted">(not on the SPDX list)</span>`}` : html`<span class="muted" title="${c.licenseNote ?? ''}">unknown${c.licenseNote ? ' (see note)' : ''}</span>`}</td>
<td class="num" data-v="${c.size}">${formatBytes(c.size)}</td>
${c.integrity ? html`<td class="mono ver" title="${c.integrity}">${c.integrity.slice(0, 19)}</td>` : html`<td class="mono ver" title="${c.digest}">${c.digest.slice(7, 19)}${c.files ? html` <span class="muted">(${Object.keys(c.files).length} files)</span>` : ''}</td>`}
<td class="mono">${c.purl}</td>
${d.audit ? html`<td class="num" data-v="${h.length}">${h.length ? html`<span class="${`sev-${h[0]!.severity}`}">${h.length}</span>` : '0'}</td>` : ''}
</tr>
`;
  });
  return html`<h2 id="components-title">Components</h2>
<div class="toolbar"><input id="q" type="search" placeholder="filter: name, version, license, purl\u2026" aria-label="filter components" autocomplete="off">
<span id="count">${d.components.length} of ${d.components.length} components</span></div>
<table id="components" data-total="${d.components.length}" data-visible="${d.components.length}">
<thead><tr><th class="sortable">kind</th><th class="sortable">name</th><th>version</th><th class="sortable">license</th><th class="sortable num">size</th><th>sha256</th><th>purl</th>${d.audit ? html`<th class="sortable num">findings</th>` : ''}</tr></thead>
<tbody>
${rows}</tbody>
</table>`;
}

function licenses(s: LicenseSummary): Html {
  const rows = s.byLicense.map(
    (l) => html`<tr><td class="mono">${l.license}</td><td class="num">${l.count}</td><td>${Object.entries(l.kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}</td>
<td>${l.listed ? 'SPDX list' : html`<span class="warn">not on the SPDX list</span> (metadata: ${l.raw.join('; ')})`}</td></tr>
`,
  );
  const byKind = new Map<string, string[]>();
  for (const u of s.unknown) byKind.set(u.kind, [...(byKind.get(u.kind) ?? []), u.note ? `${u.name} (${u.note})` : u.name]);
  return html`<h2 id="licenses">Licenses</h2>
<p>${s.known} of ${s.total} components name a license in their metadata (${s.spdx} as SPDX expressions); ${s.unknown.length} do not.</p>
${
  rows.length
    ? html`<table id="license-table"><thead><tr><th>license</th><th class="num">components</th><th>kinds</th><th>note</th></tr></thead><tbody>
${rows}</tbody></table>`
    : ''
}
${
  s.unknown.length
    ? html`<h3>Unknown (${s.unknown.length})</h3><ul class="compact" id="license-unknown">${[...byKind].map(([k, names]) => html`<li><b>${k}</b> (${names.length}): ${names.join(', ')}</li>`)}</ul>
${byKind.has('apt') ? html`<p class="muted">An apt package's license is read from its copyright file (/usr/share/doc/&lt;package&gt;/copyright inside the .deb) where that file is machine-readable (DEP-5); otherwise the note names the file and its sha256.</p>` : ''}`
    : ''
}`;
}

function audit(d: ReportData): Html {
  if (!d.audit) {
    return html`<h2 id="audit">Audit</h2><p class="muted">No audit results given (report --audit &lt;audit.json&gt; adds them).</p>`;
  }
  const f = d.audit.findings;
  const counts = new Map<string, number>();
  for (const x of f) counts.set(x.severity, (counts.get(x.severity) ?? 0) + 1);
  const summary = [...counts]
    .sort((a, b) => severityRank(a[0]) - severityRank(b[0]))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return html`<h2 id="audit">Audit</h2>
<p>${f.length} finding(s)${f.length ? ` (${summary})` : ''} from ${d.audit.source}.</p>
${
  f.length
    ? html`<table id="audit-table"><thead><tr><th>severity</th><th>id</th><th>package</th><th>version</th><th>summary</th></tr></thead><tbody>
${f.map(
  (
    x,
  ) => html`<tr><td class="${`sev-${x.severity}`}">${x.severity}</td><td class="mono">${x.id}</td><td>${x.package}</td><td class="mono">${x.version ?? ''}</td><td>${x.summary ?? ''}</td></tr>
`,
)}</tbody></table>`
    : ''
}`;
}

function diffSection(x: BundleDiff): Html {
  const table = (title: string, id: string, list: DiffEntry[]) =>
    list.length
      ? html`<h3>${title} (${list.length})</h3><table id="${`diff-${id}`}"><thead><tr><th>kind</th><th>name</th><th>from</th><th>to</th><th class="num">size</th></tr></thead><tbody>
${list.map(
  (
    e,
  ) => html`<tr><td>${e.kind}</td><td>${e.name}${e.note ? html` <span class="muted">${e.note}</span>` : ''}</td><td class="mono">${e.from ?? ''}</td><td class="mono">${e.to ?? ''}</td><td class="num">${signedBytes(e.sizeDelta)}</td></tr>
`,
)}</tbody></table>`
      : '';
  return html`<h2 id="diff">Changes since ${x.old.name} ${x.old.version}</h2>
<p>${x.old.artifacts} \u2192 ${x.new.artifacts} artifacts, ${formatBytes(x.old.bytes)} \u2192 ${formatBytes(x.new.bytes)} (${signedBytes(x.sizeDelta)}); ${x.unchanged} unchanged.</p>
${x.attention.length ? html`<h3 class="bad">Setuid, setgid or world-writable (${x.attention.length})</h3><ul class="compact" id="diff-attention">${x.attention.map((a) => html`<li class="bad"><b>${a.name}</b> installs to <span class="mono">${installText(a.install)}</span>${a.was ? html`, was <span class="mono">${installText(a.was)}</span>` : ' (new file)'}</li>`)}</ul>` : ''}
${x.warnings.length ? html`<h3 class="bad">Same version, different content (${x.warnings.length})</h3><ul class="compact" id="diff-warnings">${x.warnings.map((w) => html`<li>${w.kind} <b>${w.name}</b> ${w.version}: <span class="mono">${w.from}</span> \u2192 <span class="mono">${w.to}</span>${w.files ? ` (files ${w.files.join(', ')})` : ''}</li>`)}</ul>` : ''}
${table('Upgraded', 'upgraded', x.upgraded)}${table('Downgraded', 'downgraded', x.downgraded)}${table('Added', 'added', x.added)}${table('Removed', 'removed', x.removed)}${table('Changed', 'changed', x.changed)}`;
}
