import type { Command } from 'commander';
import type { HistoryRecord } from '../../history/record.js';
import { type Cli, examples } from '../common.js';

/** A name from a record (a bundle, a package, a path) with control characters escaped before printing. */
const esc = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function register(program: Command, cli: Cli): void {
  program
    .command('history')
    .description("list this box's install history: what each install replaced (apt versions, the venv, model refs, files, the stamp), newest last")
    .option('--state-dir <dir>', 'where install keeps its journal and history (default: /var/lib/vault-bundle as root)')
    .addHelpText('after', examples('vault-bundle history', 'vault-bundle --json history'))
    .action(async (o: { stateDir?: string }) => {
      const { listHistory } = await import('../../history/record.js');
      const { defaultStateDir } = await import('../../state/journal.js');
      const records = await listHistory(o.stateDir ?? defaultStateDir());
      cli.emit(historyText(records), { records });
    });
}

function historyText(records: readonly HistoryRecord[]): string {
  if (records.length === 0) return 'no install history on this box yet';
  const lines: string[] = [];
  for (const r of records) {
    const was = r.stamp ? (JSON.parse(r.stamp) as { version?: string }).version : undefined;
    lines.push(`${esc(r.time)}  ${esc(r.bundle.name)} ${esc(r.bundle.version)}${was ? ` (over ${esc(was)})` : ''}  from ${esc(r.bundle.path)}`);
    const apt = r.apt.filter((a) => a.before !== a.after);
    if (apt.length) lines.push(`  apt: ${apt.map((a) => `${esc(a.package)} ${esc(a.before ?? '(none)')} -> ${esc(a.after ?? '(removed)')}`).join(', ')}`);
    if (r.pip) lines.push(`  pip: ${esc(r.pip.venv)} had ${r.pip.before ? `${r.pip.before.length} distributions` : 'no venv'}`);
    for (const h of r.hf.filter((x) => x.before !== x.after))
      lines.push(`  hf: ${esc(h.repo)}@${esc(h.ref)} ${esc(h.before?.slice(0, 12) ?? '(none)')} -> ${esc(h.after.slice(0, 12))}`);
    for (const f of r.files.filter((x) => x.before !== x.after)) lines.push(`  file: ${esc(f.path)} ${f.before ? 'replaced (old bytes kept)' : 'new'}`);
  }
  return lines.join('\n');
}
