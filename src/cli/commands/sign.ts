import type { Command } from 'commander';
import { type Cli, examples, nonEmptyPath, rendered, shown } from '../common.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('sign')
    .description("sign a bundle folder or split folder: SHA256SUMS.asc (gpg --verify SHA256SUMS.asc SHA256SUMS) and its apt repository's InRelease")
    .argument('<bundle>', 'bundle folder or split (fat32) folder (a tar: sign the folder, then build --media tar)')
    .requiredOption('--key <file>', 'OpenPGP secret key file (gpg --export-secret-keys [--armor])', nonEmptyPath)
    .option('--passphrase-file <file>', 'first line: the passphrase of a protected key', nonEmptyPath)
    .addHelpText(
      'after',
      examples(
        'vault-bundle sign bundles/my-box --key release.sec',
        'vault-bundle sign bundles/my-box --key release.sec --passphrase-file ~/.vault-pass',
        'vault-bundle verify bundles/my-box --key release.asc',
      ),
    )
    .action(async (bundle: string, o: { key: string; passphraseFile?: string }) => {
      const { signWithKeyFile } = await import('../../bundle/sign.js');
      const res = await rendered(cli, (report) =>
        signWithKeyFile({ bundle, key: o.key, ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}), report }),
      );
      cli.emit(
        `signed ${shown(res.bundle)} by ${res.signer}: ${res.written.join(', ')}${res.aptPackages ? ` (apt repository of ${res.aptPackages} packages)` : ''}\n` +
          `check anywhere with: gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum --strict -c SHA256SUMS`,
        res,
      );
    });
}
