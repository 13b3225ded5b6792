import type { Command } from 'commander';
import { planText } from '../../util/plan.js';
import { type Cli, examples, localBundle, nonEmptyPath } from '../common.js';

interface RollbackFlags {
  to?: string;
  dryRun?: boolean;
  stateDir?: string;
  imageVersion?: string;
  bundle?: string;
  key?: string;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('rollback')
    .description(
      'undo the last install from its history record: apt packages and the venv back to the recorded versions (from the earlier bundle), files, model refs and the version stamp back to what the box had',
    )
    .option('--to <version>', 'the version to go back to; must be the one the last install replaced')
    .option('-n, --dry-run', 'print the plan: what changes, from which version to which; change nothing')
    .option(
      '--bundle <bundle>',
      'the earlier bundle (folder, tar, split folder, http(s):// or oci://); default: where the journal says it was installed from, then the blobs install --keep-blobs kept',
    )
    .option('--key <file>', "release public key: the earlier bundle's SHA256SUMS must be signed by it (default: the box trust policy)", nonEmptyPath)
    .option('--state-dir <dir>', 'where install keeps its journal and history (default: /var/lib/vault-bundle as root)')
    .option('--image-version <file>', 'the version stamp (default: /etc/vault-ai/image-version.json)')
    .addHelpText(
      'after',
      examples(
        'vault-bundle rollback --dry-run',
        'vault-bundle rollback --to 1.0.0 --bundle /media/stick/my-box-1.0.0',
        'vault-bundle --json rollback --dry-run',
      ),
    )
    .action(async (o: RollbackFlags) => {
      const bundle = o.bundle ? (await localBundle(cli, o.bundle)).location : undefined;
      const { rollback } = await import('../../history/rollback.js');
      const { defaultStateDir } = await import('../../state/journal.js');
      const { execFile } = await import('../../util/exec.js');
      const plan = await rollback({
        stateDir: o.stateDir ?? defaultStateDir(),
        dryRun: Boolean(o.dryRun),
        ...(o.to ? { to: o.to } : {}),
        ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
        ...(bundle ? { bundle } : {}),
        ...(o.key ? { key: o.key } : {}),
        exec: execFile,
        signal: cli.signal,
      });
      cli.emit(planText(plan), plan);
    });
}
