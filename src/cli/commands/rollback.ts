import type { Command } from 'commander';
import type { RollbackPlan } from '../../history/rollback.js';
import { type Cli, examples } from '../common.js';

const esc = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function register(program: Command, cli: Cli): void {
  program
    .command('rollback')
    .description(
      'undo the last install from its history record: files, model refs and the version stamp back to what the box had (apt and pip: not yet, refused before any change)',
    )
    .option('--to <version>', 'the version to go back to; must be the one the last install replaced')
    .option('-n, --dry-run', 'print the plan: what changes, from which version to which; change nothing')
    .option('--state-dir <dir>', 'where install keeps its journal and history (default: /var/lib/vault-bundle as root)')
    .option('--image-version <file>', 'the version stamp (default: /etc/vault-ai/image-version.json)')
    .addHelpText('after', examples('vault-bundle rollback --dry-run', 'vault-bundle rollback --to 1.0.0'))
    .action(async (o: { to?: string; dryRun?: boolean; stateDir?: string; imageVersion?: string }) => {
      const { rollback } = await import('../../history/rollback.js');
      const { defaultStateDir } = await import('../../state/journal.js');
      const { execFile } = await import('../../util/exec.js');
      const plan = await rollback({
        stateDir: o.stateDir ?? defaultStateDir(),
        dryRun: Boolean(o.dryRun),
        ...(o.to ? { to: o.to } : {}),
        ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
        exec: execFile,
      });
      cli.emit(planText(plan, Boolean(o.dryRun)), plan);
    });
}

function planText(p: RollbackPlan, dryRun: boolean): string {
  const head = `${dryRun ? 'dry run: ' : ''}rollback of ${esc(p.undo.name)} ${esc(p.undo.version)} to ${esc(p.to ?? 'the box before it')}`;
  if (p.done) return `${head}\n  nothing to do: the box is already there`;
  const lines = [head, ...p.steps.map((s) => `  ${s.kind}: ${esc(s.what)} ${esc(s.from)} -> ${esc(s.to)}`)];
  for (const m of p.missing) lines.push(`  missing: ${esc(m)}`);
  return lines.join('\n');
}
