import type { Command } from 'commander';
import type { InstallResult } from '../../install/install.js';
import { planText } from '../../util/plan.js';
import { type Cli, examples, localBundle, nonEmptyPath, positiveInt, rendered, signatureNote } from '../common.js';

interface InstallFlags {
  dryRun?: boolean;
  stateDir?: string;
  only?: string;
  flat?: string;
  base?: string;
  key?: string;
  requireSignature?: boolean;
  allowDowngrade?: boolean;
  allowExpired?: boolean;
  ignoreTarget?: boolean;
  imageVersion?: string;
  keepHistory?: number;
  keepBlobs?: boolean;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('install')
    .description('verify a bundle, then install it on this box: files, apt packages, wheels, models (no network)')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder (read in place, never extracted whole)')
    .option('-n, --dry-run', 'show what would be installed; change nothing (no journal either)')
    .option('--base <bundle>', 'for a delta bundle: the base bundle (default: where the journal says it was installed from)')
    .option('--state-dir <dir>', 'where the install journal is kept (default: /var/lib/vault-bundle as root)')
    .option('--image-version <file>', 'the version stamp a complete install writes (default: /etc/vault-ai/image-version.json)')
    .option('--keep-history <n>', 'how many install history records to keep (what each install replaced; the way back for rollback)', positiveInt, 3)
    .option(
      '--keep-blobs',
      "keep this bundle's packages, wheels, model files and files in the state folder: a later rollback to it needs no copy of the bundle",
    )
    .option('--only <kinds>', 'comma-separated kinds to install (file,apt,pip,hf)')
    .option('--flat <dir>', 'also write each model as real files under <dir>/<org>/<name> (no symlinks)')
    .option(
      '--key <file>',
      "release public key: the signature must be present and verify, and apt checks the bundle's signed repository with it (signed-by)",
      nonEmptyPath,
    )
    .option('--require-signature', 'accepted for compatibility: --key already requires a signature')
    .option('--allow-downgrade', 'install even if this box has a newer version of this bundle installed')
    .option('--allow-expired', 'install a bundle past the expiry date in its bundle.json')
    .option('--ignore-target', "install on a box that is not the bundle's target (OS release, architecture, Python): warn instead of refusing")
    .addHelpText(
      'after',
      examples(
        'vault-bundle install /media/stick/my-box --dry-run',
        'vault-bundle install /media/stick/my-box --key release.asc',
        'vault-bundle install my-box-1.1.0-delta.tar --base /media/stick/my-box-1.0.0 --only apt,pip',
      ),
    )
    .action(async (bundle: string, o: InstallFlags) => {
      const local = await localBundle(cli, bundle);
      bundle = local.location;
      const { installBundle } = await import('../../install/install.js');
      const { execFile } = await import('../../util/exec.js');
      const res = await rendered(cli, (report) =>
        installBundle({
          bundle,
          // The pulled copy of a served bundle is this run's own: its unshared file blobs are moved into place.
          ...(local.hashed ? { hashed: local.hashed, takePulled: true } : {}),
          dryRun: Boolean(o.dryRun),
          stateDir: o.stateDir,
          only: o.only?.split(','),
          ...(o.flat ? { flat: o.flat } : {}),
          ...(o.base ? { base: o.base } : {}),
          ...(o.key ? { key: o.key } : {}),
          ...(o.requireSignature ? { requireSignature: true } : {}),
          ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
          ...(o.allowExpired ? { allowExpired: true } : {}),
          ...(o.ignoreTarget ? { ignoreTarget: true } : {}),
          ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
          ...(o.keepHistory ? { keepHistory: o.keepHistory } : {}),
          ...(o.keepBlobs ? { keepBlobs: true } : {}),
          exec: execFile,
          report,
          signal: cli.signal,
        }),
      );
      cli.emit(installText(res), res);
    });
}

function installText(res: InstallResult): string {
  const sig = signatureNote(res.signature);
  const lines = [`${res.dryRun ? 'dry run: ' : ''}${res.name} ${res.version}`, `  verified (${(res.verifyMs / 1000).toFixed(1)} s)${sig ? `; ${sig}` : ''}`];
  for (const rep of res.reports) {
    lines.push(
      `  ${rep.kind}: ${rep.changed.length} ${res.dryRun ? 'to install' : 'installed'}, ${rep.unchanged.length} already in place (${(rep.ms / 1000).toFixed(1)} s)`,
    );
    for (const c of rep.changed) lines.push(`    + ${c}`);
  }
  if (res.reports.every((x) => x.changed.length === 0)) lines.push('  nothing to do: everything is already installed');
  if (res.plan) lines.push(planText(res.plan));
  if (res.stamp)
    lines.push(`  this box now runs ${res.stamp.bundle} ${res.stamp.version}${res.stamp.previous_version ? ` (was ${res.stamp.previous_version})` : ''}`);
  return lines.join('\n');
}
