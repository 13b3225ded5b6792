import type { BaselineComparison } from './baseline.js';
import type { CheckResult, CheckStatus } from './check.js';
import type { NetworkFacts } from './netns.js';
import { escapeXml } from './xml.js';

export const RESULTS_SCHEMA = 'vault-bundle/smoke-results/v1';

export interface SmokeReport {
  schema: typeof RESULTS_SCHEMA;
  tool: { name: string; version: string };
  started: string;
  finished: string;
  durationMs: number;
  /** Host, OS, GPUs and versions (merged from every check's `versions`). */
  box: Record<string, string>;
  network: NetworkFacts;
  /** The environment every probe ran with, beyond the box's own (the offline switches). */
  env: Record<string, string>;
  bundle?: { path: string; name?: string; version?: string };
  /** The box's /etc/vault-ai/image-version.json, when a complete install wrote one. */
  imageVersion?: Record<string, unknown>;
  summary: Record<CheckStatus, number> & { total: number };
  ok: boolean;
  checks: CheckResult[];
  baseline?: BaselineComparison & { file: string };
}

export function summarize(results: readonly CheckResult[]): SmokeReport['summary'] {
  const s = { total: results.length, pass: 0, fail: 0, skip: 0, error: 0 };
  for (const r of results) s[r.status]++;
  return s;
}

/** 0 only when nothing failed or errored (skips are fine: each says why). */
export function exitCodeFor(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === 'fail' || r.status === 'error') ? 1 : 0;
}

/** JUnit timestamps: ISO 8601 without zone or fraction (the strict XSD). */
const junitTime = (iso: string) => iso.replace(/\.\d+Z?$|Z$/, '');
const secs = (ms: number) => (ms / 1000).toFixed(3);

/**
 * JUnit XML: one <testsuite> per area (gpu, nccl, models, inference, …), one <testcase> per check;
 * fail → <failure>, error → <error>, skip → <skipped>, with the reason as message. Counts on every suite and
 * on <testsuites> add up from their children.
 */
export function toJunit(r: Pick<SmokeReport, 'checks' | 'box' | 'started' | 'durationMs'>, name = 'vault-bundle smoke'): string {
  const areas = new Map<string, CheckResult[]>();
  for (const c of r.checks) {
    const area = c.id.split('.')[0] ?? c.id;
    areas.set(area, [...(areas.get(area) ?? []), c]);
  }
  const count = (cs: readonly CheckResult[], s: CheckStatus) => cs.filter((c) => c.status === s).length;
  const total = summarize(r.checks);
  const a = (k: string, v: string | number) => ` ${k}="${escapeXml(String(v))}"`;
  const host = r.box.hostname ?? 'localhost';
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    // Jenkins' junit-10.xsd allows no skipped or timestamp on <testsuites>: those stay on each <testsuite>.
    `<testsuites${a('name', name)}${a('tests', total.total)}${a('failures', total.fail)}${a('errors', total.error)}${a('time', secs(r.durationMs))}>`,
  ];
  for (const [area, cs] of areas) {
    const ms = cs.reduce((s, c) => s + c.durationMs, 0);
    lines.push(
      `  <testsuite${a('name', area)}${a('tests', cs.length)}${a('failures', count(cs, 'fail'))}${a('errors', count(cs, 'error'))}${a('skipped', count(cs, 'skip'))}${a('time', secs(ms))}${a('timestamp', junitTime(cs[0]?.started ?? r.started))}${a('hostname', host)}>`,
    );
    lines.push('    <properties>');
    for (const [k, v] of Object.entries(r.box).sort(([x], [y]) => (x < y ? -1 : 1))) lines.push(`      <property${a('name', k)}${a('value', v)}/>`);
    lines.push('    </properties>');
    for (const c of cs) {
      const open = `    <testcase${a('classname', `smoke.${area}`)}${a('name', c.id)}${a('time', secs(c.durationMs))}`;
      const out = systemOut(c);
      const body: string[] = [];
      if (c.status === 'fail')
        body.push(`      <failure${a('message', c.reason ?? 'failed')}${a('type', 'CheckFailed')}>${escapeXml(c.detail ?? c.reason ?? '')}</failure>`);
      else if (c.status === 'error')
        body.push(`      <error${a('message', c.reason ?? 'error')}${a('type', 'CheckError')}>${escapeXml(c.detail ?? c.reason ?? '')}</error>`);
      else if (c.status === 'skip') body.push(`      <skipped${a('message', c.reason ?? 'skipped')}/>`);
      if (out) body.push(`      <system-out>${escapeXml(out)}</system-out>`);
      lines.push(body.length ? `${open}>\n${body.join('\n')}\n    </testcase>` : `${open}/>`);
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function systemOut(c: CheckResult): string {
  const parts: string[] = [];
  if (c.status === 'pass' && c.reason) parts.push(c.reason);
  if (c.metrics && Object.keys(c.metrics).length)
    parts.push(
      Object.entries(c.metrics)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
  if (c.thresholds && Object.keys(c.thresholds).length)
    parts.push(
      `thresholds: ${Object.entries(c.thresholds)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  if (c.status === 'pass' && c.detail) parts.push(c.detail);
  return parts.join('\n');
}

/** The human summary: one line per check, then the totals. */
export function humanSummary(r: Pick<SmokeReport, 'checks' | 'summary' | 'ok' | 'network' | 'box'> & { baseline?: SmokeReport['baseline'] }): string {
  const w = Math.max(...r.checks.map((c) => c.id.length), 8);
  const lines: string[] = [];
  const box = [
    r.box.gpu_count && r.box.gpu_model ? `${r.box.gpu_count} × ${r.box.gpu_model}` : undefined,
    r.box.driver && `driver ${r.box.driver}`,
    r.box.cuda && `CUDA ${r.box.cuda}`,
    r.box.torch && `torch ${r.box.torch}`,
  ]
    .filter(Boolean)
    .join(', ');
  if (box) lines.push(box);
  lines.push(
    `network: ${r.network.isolated ? 'isolated (no interface but lo)' : `interfaces ${r.network.interfaces.join(', ') || 'none'}`}, lo ${r.network.loopback}${r.network.netns ? ', own network namespace' : ''}`,
  );
  for (const c of r.checks) {
    const status = c.status === 'error' ? 'ERROR' : c.status.toUpperCase();
    const secs = `${(c.durationMs / 1000).toFixed(1)} s`;
    lines.push(`${status.padEnd(5)}  ${c.id.padEnd(w)}  ${secs.padStart(7)}  ${c.reason ?? headline(c)}`);
  }
  const s = r.summary;
  if (r.baseline) {
    const b = r.baseline;
    lines.push(
      b.comparable
        ? `baseline ${b.file}: ${b.metrics.filter((m) => m.status !== 'missing').length} metrics compared, ${b.regressions.length} regressed (tolerance ${Math.round(b.tolerance * 100)} %)`
        : `baseline ${b.file}: NOT compared, the key differs (${b.keyDiffs.join('; ')})`,
    );
    for (const m of b.regressions) lines.push(`  regressed ${m.metric}: ${m.current} vs ${m.baseline} (${m.better} is better, ratio ${m.ratio})`);
  }
  lines.push(`${r.ok ? 'OK' : 'FAILED'}: ${s.pass} passed, ${s.fail} failed, ${s.skip} skipped, ${s.error} errors`);
  return `${lines.join('\n')}\n`;
}

function headline(c: CheckResult): string {
  const m = Object.entries(c.metrics ?? {})
    .filter(([k]) => /(_tflops|_gbps|_tok_s|_sec)$/.test(k))
    .slice(0, 4);
  return m.map(([k, v]) => `${k}=${v}`).join(' ');
}
