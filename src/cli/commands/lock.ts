import type { Command } from 'commander';
import { type Cli, examples, rendered, shown } from '../common.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('lock')
    .description('resolve every artifact of a manifest and write <manifest>.lock.json')
    .argument('<manifest>', 'manifest YAML file')
    .option('-o, --out <file>', 'where to write the lock (default: next to the manifest)')
    .option('--target <probe>', "the box's probe file (vault-bundle probe): lock only what that box lacks")
    .addHelpText(
      'after',
      examples(
        'vault-bundle lock manifests/quickstart.yaml',
        'vault-bundle lock my-box.yaml --target box.json',
        'vault-bundle --cache-dir /srv/vault-cache lock my-box.yaml -o release/my-box.lock.json',
      ),
    )
    .action(async (manifest: string, o: { out?: string; target?: string }) => {
      const { lockManifest } = await import('../../lock/for-build.js');
      const { UNCHECKED } = await import('../../sources/pip/index.js');
      const { path, lock } = await rendered(cli, async (report) =>
        lockManifest({ manifest, out: o.out, ...(o.target ? { target: o.target } : {}) }, await cli.ctxFor(report)),
      );
      // Wheels resolved from PEP 658 metadata alone: their index's sha256 is recorded, their bytes not yet seen.
      const unchecked = lock.artifacts.filter((a) => a.kind === 'pip' && a.meta?.bytes === UNCHECKED).length;
      const note = unchecked
        ? `; ${unchecked} pip ${unchecked === 1 ? 'wheel is' : 'wheels are'} pinned by the index's sha256 alone (resolved from PEP 658 metadata, not fetched; marked "bytes: unchecked" in the lock): build fetches and checks them`
        : '';
      cli.emit(`locked ${lock.artifacts.length} artifacts in ${shown(path)}${note}`, { lock: path, artifacts: lock.artifacts.length, unchecked });
    });
}
