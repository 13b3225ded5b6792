import type { Command } from 'commander';
import { type Cli, examples } from '../common.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('why')
    .description('show the chain of dependents that pulled a package into a lock or bundle')
    .argument('<from>', 'manifest (its lock is read), lock file or bundle folder')
    .argument('<package>', 'package name')
    .addHelpText(
      'after',
      examples(
        'vault-bundle why manifests/quickstart.yaml libonig5',
        'vault-bundle why bundles/quickstart jq',
        'vault-bundle --json why my-box.lock.json numpy',
      ),
    )
    .action(async (from: string, pkg: string) => {
      const { whyPulled } = await import('../../report/why.js');
      const r = await whyPulled(from, pkg);
      cli.emit(r.chain.map((c) => c.join('\n  ')).join('\n\n'), r);
    });
}
