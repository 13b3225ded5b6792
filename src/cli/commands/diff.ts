import type { Command } from 'commander';
import { type Cli, examples } from '../common.js';
import { printErr, printOut } from '../out.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('diff')
    .description('what changed between two bundles: components added, removed, upgraded, downgraded by purl; same version with other bytes; size')
    .argument('<old>', 'the older bundle (folder, tar or split folder), or its bundle.json')
    .argument('<new>', 'the newer bundle, or its bundle.json')
    .option('--changelog', 'print a Markdown section for release notes instead')
    .addHelpText(
      'after',
      examples(
        'vault-bundle diff bundles/my-box-1.0.0 bundles/my-box-1.1.0',
        'vault-bundle diff old/bundle.json my-box.tar --changelog >> CHANGELOG.md',
        'vault-bundle --json diff bundles/my-box-1.0.0 bundles/my-box-1.1.0',
      ),
    )
    .action(async (oldB: string, newB: string, o: { changelog?: boolean }) => {
      const { compareBundles } = await import('../../report/compare.js');
      const r = await compareBundles({ old: oldB, new: newB, changelog: Boolean(o.changelog) });
      const { text, changelog, ...data } = r;
      if (cli.mode === 'json') cli.emit('', { ...data, ...(changelog ? { changelog } : {}) });
      else if (changelog) {
        // The Markdown stays clean for release notes; the warning goes where a person sees it.
        for (const u of r.unverified ?? []) printErr(`warning: ${u}\n`);
        printOut(changelog);
      } else cli.emit(text, data);
    });
}
