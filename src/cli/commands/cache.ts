import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type Cli, examples } from '../common.js';
import { formatBytes } from '../../util/format.js';
import { escapeName } from '../../util/escape.js';

/** `vault-bundle cache verify` and `vault-bundle cache gc --keep-locks DIR [--dry-run]`. */
export function register(program: Command, cli: Cli): void {
  const cache = program
    .command('cache')
    .description('check or trim the shared blob cache (--cache-dir)')
    .addHelpText('after', examples('vault-bundle cache verify', 'vault-bundle --cache-dir /srv/vb-cache cache verify', 'vault-bundle cache gc --help'));
  const store = async () => {
    const { Store } = await import('../../store/store.js');
    const { defaultCacheDir } = await import('../../context.js');
    const dir = cli.globals.cacheDir;
    return new Store(dir ? resolve(dir) : defaultCacheDir());
  };
  // A file name in the cache is not ours to trust: escaped before it reaches the terminal.
  const esc = escapeName;

  cache
    .command('verify')
    .description('re-hash every cached blob; move the damaged ones aside (the next build fetches them anew); exit 4 if any was')
    .action(async () => {
      const { verifyStore } = await import('../../store/maintain.js');
      const r = await verifyStore(await store(), { signal: cli.signal });
      const lines = r.bad.map(
        (b) =>
          `BAD ${esc(b.name)}: ${b.found.startsWith('sha256:') ? `hashes to ${b.found}` : b.found}; ${b.movedTo ? `moved aside to ${b.movedTo}` : 'removed'}`,
      );
      lines.push(
        `${r.bad.length ? 'damaged' : 'ok'}: ${r.checked} blobs (${formatBytes(r.bytes)}) in ${r.root} re-hashed${r.bad.length ? `, ${r.bad.length} bad` : ''}`,
      );
      cli.emit(lines.join('\n'), { ok: r.bad.length === 0, ...r });
      if (r.bad.length) cli.exit(4);
    });

  cache
    .command('gc')
    .description('remove cached blobs that no lock in a folder refers to (and what verify moved aside)')
    .requiredOption('--keep-locks <dir>', 'folder whose *.lock.json files (searched recursively) name the blobs to keep')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .addHelpText(
      'after',
      examples('vault-bundle cache gc --keep-locks manifests --dry-run', 'vault-bundle --cache-dir /srv/vb-cache cache gc --keep-locks releases/'),
    )
    .action(async (o: { keepLocks: string; dryRun?: boolean }) => {
      const { lockedDigestsIn } = await import('../../lock/keep.js');
      const { gcStore } = await import('../../store/maintain.js');
      const { locks, digests } = await lockedDigestsIn(resolve(o.keepLocks));
      const r = await gcStore(await store(), digests, { dryRun: Boolean(o.dryRun) });
      const verb = r.dryRun ? 'would remove' : 'removed';
      const lines = r.removed.map((x) => `${verb} ${esc(x.name)} (${formatBytes(x.size)})`);
      lines.push(
        `${verb} ${r.removed.length} entries (${formatBytes(r.removedBytes)}); kept ${r.kept} blobs (${formatBytes(r.keptBytes)}) named by ${locks.length} lock file(s)`,
      );
      cli.emit(lines.join('\n'), { ...r, locks });
    });
}
