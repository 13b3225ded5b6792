import { type Command, Option } from 'commander';
import type { AuditBundleResult } from '../../audit/bundle.js';
import { type Cli, examples, rendered } from '../common.js';
import { printErr } from '../out.js';

/** Exit code of an audit whose OSV data covers none of some ecosystem of the bundle: distinct from 0 and 1. */
const EXIT_UNCOVERED = 7;

type FailOn = 'any' | 'low' | 'medium' | 'high' | 'critical' | 'never';

export function register(program: Command, cli: Cli): void {
  program
    .command('audit')
    .description("match a bundle's debs (Debian, Ubuntu) and wheels (PyPI) against OSV vulnerability records, offline; exit 1 at or above --fail-on")
    .argument('<bundle>', 'bundle folder, tar file, split (fat32) folder, or its bundle.json')
    .requiredOption(
      '--osv <path>',
      'OSV records: a folder of .json files, an ecosystem all.zip of the OSV export, or one record file (repeat for several)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity (unknown counts as medium)')
        .choices(['any', 'low', 'medium', 'high', 'critical', 'never'])
        .default('high'),
    )
    .option(
      '--allow-uncovered',
      'exit 0 even when the OSV data has no record at all for an ecosystem of the bundle (default: exit 7, since its packages were not checked)',
    )
    .addHelpText(
      'after',
      examples(
        'vault-bundle audit bundles/my-box --osv osv/Debian.zip --osv osv/PyPI.zip',
        'vault-bundle audit my-box.tar --osv osv/ --fail-on critical',
        'vault-bundle --json audit bundles/my-box/bundle.json --osv osv/ --fail-on never > findings.json',
      ),
    )
    .action(async (bundle: string, o: { osv: string[]; failOn: FailOn; allowUncovered?: boolean }) => {
      const { auditBundle } = await import('../../audit/bundle.js');
      const res = await rendered(cli, (report) =>
        auditBundle({ bundle, osv: o.osv, failOn: o.failOn, ...(o.allowUncovered ? { allowUncovered: true } : {}), report }),
      );
      cli.emit(auditText(res), res);
      // Findings over the gate come first; an audit that could not check everything is never a clean 0.
      if (res.failing > 0) cli.exit(1);
      else if (res.incomplete) {
        printErr(
          `error: the OSV data has no record for ${res.summary.uncovered.join(', ')}: the bundle's packages of ${res.summary.uncovered.length > 1 ? 'those ecosystems' : 'that ecosystem'} were not checked\n`,
        );
        printErr("hint: add those ecosystems' OSV export with --osv, or accept an incomplete audit with --allow-uncovered\n");
        cli.exit(EXIT_UNCOVERED);
      }
    });
}

/** The findings as lines for a terminal: most severe first, then what was not checked. */
function auditText(r: AuditBundleResult): string {
  const lines: string[] = [];
  const s = r.summary;
  if (r.unverified) lines.push(`warning: ${r.unverified}`);
  const checkedTotal = Object.values(s.checked).reduce((a, b) => a + b, 0);
  const eco = Object.entries(s.checked)
    .map(([e, n]) => `${n} ${e}`)
    .join(', ');
  lines.push(
    `audited ${r.name} ${r.version}: ${checkedTotal} package(s) (${eco || 'none'}) against ${s.records} OSV record(s)${s.withdrawn ? ` (${s.withdrawn} withdrawn, skipped)` : ''}`,
  );
  if (r.findings.length) {
    const w = {
      sev: Math.max(...r.findings.map((f) => f.severity.length)),
      id: Math.max(...r.findings.map((f) => f.id.length)),
      pkg: Math.max(...r.findings.map((f) => `${f.package} ${f.version}`.length)),
    };
    lines.push('');
    for (const f of r.findings) {
      const cve = f.aliases.find((a) => a.startsWith('CVE-'));
      lines.push(
        `${f.severity.toUpperCase().padEnd(w.sev)}  ${f.id.padEnd(w.id)}  ${`${f.package} ${f.version}`.padEnd(w.pkg)}  ` +
          `${f.fixed ? `fixed in ${f.fixed}` : 'no fix'}${f.score !== undefined ? `  CVSS ${f.score}` : ''}${cve && cve !== f.id ? `  ${cve}` : ''}` +
          `${f.summary ? `  ${f.summary.length > 100 ? `${f.summary.slice(0, 99)}…` : f.summary}` : ''}`,
      );
    }
  }
  const counts = Object.entries<number>(s.bySeverity)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  lines.push('', `${r.findings.length} finding(s)${counts.length ? ` (${counts.join(', ')})` : ''}; ${r.failing} at or above --fail-on ${r.failOn}`);
  for (const e of s.uncovered) {
    lines.push(
      `${r.incomplete ? 'INCOMPLETE' : 'warning'}: the OSV data has no ${e} record: its ${s.checked[e]} package(s) were not really checked` +
        `${r.incomplete ? ` (exit ${EXIT_UNCOVERED}; add the ${e} export with --osv, or accept it with --allow-uncovered)` : ' (--allow-uncovered)'}`,
    );
  }
  if (s.unchecked.length)
    lines.push(`not checked: ${s.unchecked.length} artifact(s) outside OSV's ecosystems (models, files, other apt repositories; --json lists them)`);
  return lines.join('\n');
}
