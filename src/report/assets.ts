/**
 * The report page's own CSS and JS, inlined into the one HTML file (no external assets, no CDN). The page's
 * Content-Security-Policy allows exactly these two blocks by their sha256, nothing else.
 *
 * The script filters the components table: the search box, or `#q=<terms>` in the URL (so a link, or a
 * headless browser, can open the page already filtered). Every term must occur in a row's name, version,
 * kind, license or purl. It sorts by a column on a click on its header. It never writes HTML: it only sets
 * `hidden`, text and attributes.
 */
export const CSS = `
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --head: #f6f8fa; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 24px 32px; max-width: 1400px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; white-space: nowrap; }
td.ver { white-space: nowrap; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable::after { content: " \\2195"; color: var(--muted); font-size: 11px; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.mono, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
tr[hidden] { display: none; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; border: 1px solid currentColor; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); } .muted { color: var(--muted); }
.toolbar { display: flex; gap: 12px; align-items: center; margin: 8px 0; }
#q { font: inherit; padding: 6px 10px; width: 360px; max-width: 100%; border: 1px solid var(--line); border-radius: 6px; }
.sev-critical, .sev-high { color: var(--bad); font-weight: 600; }
.sev-medium, .sev-moderate { color: var(--warn); font-weight: 600; }
ul.compact { margin: 4px 0; padding-left: 20px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

export const JS = `
(function () {
  'use strict';
  var table = document.getElementById('components');
  var input = document.getElementById('q');
  var count = document.getElementById('count');
  if (!table || !input || !count) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  function termsOf(q) { return q.trim().toLowerCase().split(/\\s+/).filter(function (t) { return t.length > 0; }); }
  function apply(q) {
    var terms = termsOf(q);
    var shown = 0;
    rows.forEach(function (r) {
      var hay = r.getAttribute('data-search') || '';
      var ok = terms.every(function (t) { return hay.indexOf(t) >= 0; });
      r.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + ' of ' + rows.length + ' components';
    table.setAttribute('data-visible', String(shown));
    table.setAttribute('data-query', terms.join(' '));
  }
  function fromHash() {
    var m = /(?:^#|&)q=([^&]*)/.exec(location.hash);
    if (!m) return '';
    try { return decodeURIComponent(m[1].replace(/\\+/g, ' ')); } catch (e) { return m[1]; }
  }
  input.addEventListener('input', function () {
    apply(input.value);
    try { history.replaceState(null, '', input.value ? '#q=' + encodeURIComponent(input.value) : location.pathname + location.search); } catch (e) { /* file: URLs in some browsers */ }
  });
  window.addEventListener('hashchange', function () { input.value = fromHash(); apply(input.value); });
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    if (!th.classList.contains('sortable')) return;
    var dir = 1;
    th.addEventListener('click', function () {
      var numeric = th.classList.contains('num');
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v') || a.cells[col].textContent || '';
        var y = b.cells[col].getAttribute('data-v') || b.cells[col].textContent || '';
        return dir * (numeric ? Number(x) - Number(y) : x.localeCompare(y));
      });
      dir = -dir;
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  input.value = fromHash();
  apply(input.value);
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;
