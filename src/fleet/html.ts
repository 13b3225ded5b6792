import { createHash } from 'node:crypto';
import { CSS } from '../report/assets.js';
import { type Html, html, trusted } from '../report/escape.js';
import { FLEET_METRICS, type BoxSummary, type FleetSummary, OUTLIER_FRACTION } from './summary.js';

/** The fleet page's own rules, after the bundle report's (same look: one house style). */
const FLEET_CSS = `${CSS}
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
tr.status-fail td.host, tr.status-no-report td.host { border-left: 4px solid var(--bad); }
tr.status-pass td.host { border-left: 4px solid var(--ok); }
td.outlier { background: #ffebe9; color: var(--bad); font-weight: 600; }
td .peer { display: block; color: var(--muted); font-size: 11px; font-weight: 400; }
td.reason { max-width: 520px; overflow-wrap: anywhere; }
`;

const sha256b64 = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');
const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));

function badge(b: BoxSummary): Html {
  const cls = b.status === 'pass' ? 'ok' : 'bad';
  const text = b.status === 'no-report' ? 'no report' : b.status;
  return html`<span class="badge ${cls}">${text}</span>`;
}

function metricCell(b: BoxSummary, id: (typeof FLEET_METRICS)[number]['id']): Html {
  const c = b.metrics[id];
  if (!c) return html`<td class="num muted" data-metric="${id}">\u2014</td>`;
  const peer = c.delta !== undefined ? `${c.delta > 0 ? '+' : ''}${(c.delta * 100).toFixed(1)} % vs peers ${fmt(c.peers!)}` : 'no peers';
  return html`<td class="num${c.outlier ? ' outlier' : ''}" data-metric="${id}"${c.outlier ? trusted(' data-outlier="true"') : ''}>${fmt(c.value)}${c.outlier ? ' \u25bc' : ''}<span class="peer">${peer}</span></td>`;
}

/** The stamped image version, the one before it beneath (a first install has none). */
function imageCell(b: BoxSummary): Html {
  const i = b.image;
  if (!i) return html`<td class="ver muted" data-image="">\u2014</td>`;
  const was = i.previous ? `was ${i.previous}` : 'first install';
  return html`<td class="ver" data-image="${i.version}">${i.version}${i.via === 'rollback' ? ' (rollback)' : ''}<span class="peer" data-previous="${i.previous ?? ''}">${was}</span></td>`;
}

function row(b: BoxSummary): Html {
  const v = b.versions;
  const bundle = b.bundle ? `${b.bundle.name ?? '?'} ${b.bundle.version ?? '?'}` : '\u2014';
  return html`<tr class="status-${b.status}" data-host="${b.host}" data-status="${b.status}">
<td class="host mono">${b.host}</td>
<td>${badge(b)}</td>
<td class="reason">${b.reason}</td>
<td>${bundle}${b.bundle?.digest ? html`<span class="peer mono" title="${b.bundle.digest}">${b.bundle.digest.slice(0, 19)}\u2026</span>` : ''}</td>
${imageCell(b)}
<td class="ver">${v.driver ?? '\u2014'}</td>
<td class="ver">${v.cuda ?? '\u2014'}</td>
<td class="ver">${v.torch ?? '\u2014'}</td>
${FLEET_METRICS.map((m) => metricCell(b, m.id))}
</tr>`;
}

function reasons(s: FleetSummary): Html {
  if (s.reasons.length === 0) return html`<p class="ok">Every box passed.</p>`;
  return html`<h2>Why boxes failed</h2>
<table id="reasons"><thead><tr><th>Reason</th><th class="num">Boxes</th><th>Which</th></tr></thead><tbody>
${s.reasons.map((r) => html`<tr><td class="reason">${r.reason}</td><td class="num">${r.boxes.length}</td><td class="mono">${r.boxes.join(', ')}</td></tr>`)}
</tbody></table>`;
}

/**
 * The fleet page: counts, why boxes failed (grouped by reason), then a row per box with its bundle, versions
 * and each fleet metric beside its peers' median, outliers marked. One self-contained file under a
 * Content-Security-Policy that allows its inline style by hash and no script at all; every value escaped.
 */
export function renderFleetHtml(s: FleetSummary, tool: { name: string; version: string }): string {
  const csp = `default-src 'none'; style-src 'sha256-${sha256b64(FLEET_CSS)}'; script-src 'none'; img-src data:; base-uri 'none'; form-action 'none'`;
  const c = s.counts;
  const med = (id: (typeof FLEET_METRICS)[number]['id']) => (s.medians[id] !== undefined ? fmt(s.medians[id]) : '\u2014');
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${tool.name} ${tool.version}">
<title>Fleet: ${c.pass} of ${c.boxes} boxes pass</title>
<style>${trusted(FLEET_CSS)}</style>
</head>
<body>
<h1>Fleet: ${c.pass} of ${c.boxes} boxes pass</h1>
<p class="sub">Rollout and smoke results fetched from each box; outliers are ${OUTLIER_FRACTION * 100} % or more below their peers' median (or that much hotter).</p>
<div class="cards" id="counts">
<div class="card ok" data-count="pass"><b>${c.pass}</b>pass</div>
<div class="card bad" data-count="fail"><b>${c.fail}</b>fail</div>
<div class="card bad" data-count="no-report"><b>${c.noReport}</b>did not report</div>
<div class="card warn" data-count="outliers"><b>${c.outliers}</b>with outliers</div>
</div>
${reasons(s)}
<h2>Boxes</h2>
<table id="boxes" data-boxes="${c.boxes}">
<thead><tr><th>Box</th><th>Status</th><th>Reason</th><th>Bundle</th><th title="/etc/vault-ai/image-version.json">Image version</th><th>Driver</th><th>CUDA</th><th>torch</th>
${FLEET_METRICS.map((m) => html`<th class="num" title="${m.title}">${m.title}</th>`)}</tr>
<tr class="medians"><th colspan="8">fleet median</th>${FLEET_METRICS.map((m) => html`<th class="num" data-median="${m.id}">${med(m.id)}</th>`)}</tr></thead>
<tbody>
${s.boxes.map(row)}
</tbody>
</table>
<footer>Made by ${tool.name} ${tool.version} on ${s.generated} from ${s.source}. One self-contained file: no external assets, no script.</footer>
</body>
</html>
`;
  return page.text;
}
