import { escapeXml } from '../checks/xml.js';
import { FLEET_METRICS, type BoxSummary, type FleetSummary } from './summary.js';

const a = (k: string, v: string | number) => ` ${k}="${escapeXml(String(v))}"`;
const secs = (ms: number) => (ms / 1000).toFixed(3);

interface Case {
  name: string;
  classname: string;
  ms: number;
  outcome?: { tag: 'failure' | 'error' | 'skipped'; message: string };
}

/** One box's testcases: the rollout steps it ran, each smoke check, and each fleet metric against its peers. */
function casesOf(b: BoxSummary): Case[] {
  const cls = `fleet.${b.host}`;
  if (b.status === 'no-report') return [{ name: 'report', classname: cls, ms: 0, outcome: { tag: 'error', message: b.reason } }];
  const cases: Case[] = [];
  if (b.failedStep && b.failedStep !== 'smoke')
    cases.push({ name: `rollout.${b.failedStep}`, classname: cls, ms: 0, outcome: { tag: 'failure', message: b.reason } });
  for (const c of b.checks) {
    const tag = c.status === 'fail' ? 'failure' : c.status === 'error' ? 'error' : c.status === 'skip' ? 'skipped' : undefined;
    cases.push({ name: c.id, classname: `${cls}.smoke`, ms: c.durationMs, ...(tag ? { outcome: { tag, message: c.reason ?? c.status } } : {}) });
  }
  for (const m of FLEET_METRICS) {
    const cell = b.metrics[m.id];
    if (!cell) continue;
    const pct = cell.delta !== undefined ? `${(cell.delta * 100).toFixed(1)} % against the peers' median ${cell.peers}` : 'no peers to compare with';
    cases.push({
      name: `fleet.${m.id}`,
      classname: `${cls}.fleet`,
      ms: 0,
      ...(cell.outlier
        ? {
            outcome: {
              tag: 'failure' as const,
              message: `${m.title}: ${cell.value}, ${pct} (outlier: ${m.better === 'higher' ? 'below' : 'above'} by 15 % or more)`,
            },
          }
        : {}),
    });
  }
  if (cases.length === 0)
    cases.push({ name: 'rollout', classname: cls, ms: 0, ...(b.status === 'fail' ? { outcome: { tag: 'failure' as const, message: b.reason } } : {}) });
  return cases;
}

/** One JUnit file for the fleet: a <testsuite> per box (hostname = the inventory name), counts that add up. */
export function fleetJunit(s: FleetSummary): string {
  const suites = s.boxes.map((b) => ({ b, cases: casesOf(b) }));
  const count = (cs: Case[], tag: string) => cs.filter((c) => c.outcome?.tag === tag).length;
  const all = suites.flatMap((x) => x.cases);
  const stamp = s.generated.replace(/\.\d+Z?$|Z$/, '');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${a('name', 'vault-bundle fleet')}${a('tests', all.length)}${a('failures', count(all, 'failure'))}${a('errors', count(all, 'error'))}${a('skipped', count(all, 'skipped'))}${a('time', secs(all.reduce((n, c) => n + c.ms, 0)))}${a('timestamp', stamp)}>`,
  ];
  for (const { b, cases } of suites) {
    lines.push(
      `  <testsuite${a('name', b.host)}${a('tests', cases.length)}${a('failures', count(cases, 'failure'))}${a('errors', count(cases, 'error'))}${a('skipped', count(cases, 'skipped'))}${a('time', secs(cases.reduce((n, c) => n + c.ms, 0)))}${a('timestamp', stamp)}${a('hostname', b.host)}>`,
    );
    const props: [string, string | undefined][] = [
      ['status', b.status],
      ['reason', b.reason],
      ['bundle', b.bundle ? `${b.bundle.name ?? '?'} ${b.bundle.version ?? '?'}` : undefined],
      ['bundle_digest', b.bundle?.digest],
      ['image_version', b.image?.version],
      ['image_previous_version', b.image?.previous],
      ['driver', b.versions.driver],
      ['cuda', b.versions.cuda],
      ['torch', b.versions.torch],
    ];
    lines.push('    <properties>', ...props.filter(([, v]) => v).map(([k, v]) => `      <property${a('name', k)}${a('value', v!)}/>`), '    </properties>');
    for (const c of cases) {
      const open = `    <testcase${a('classname', c.classname)}${a('name', c.name)}${a('time', secs(c.ms))}`;
      if (!c.outcome) lines.push(`${open}/>`);
      else lines.push(`${open}>`, `      <${c.outcome.tag}${a('message', c.outcome.message)}/>`, '    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
