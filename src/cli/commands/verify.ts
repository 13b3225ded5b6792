import { type Command, Option } from 'commander';
import type { VerifyReport } from '../../bundle/verify.js';
import { type Cli, examples, localBundle, nonEmptyPath, positiveInt, rendered, shown, signatureNote } from '../common.js';
import { formatBytes } from '../../util/format.js';
import { escapeName } from '../../util/escape.js';
import { endAtOnce, printErr, printJson, printOut } from '../out.js';

interface VerifyFlags {
  threads?: number;
  base?: string;
  key?: string;
  requireSignature?: boolean;
  allowExpired?: boolean;
}

export function register(program: Command, cli: Cli): void {
  // Run through a bundle's ./verify, the bundle is the folder that script is in: its help says so.
  const entry = process.env.VAULT_BUNDLE_ENTRY === './verify';
  const cmd = program
    .command('verify')
    .description('re-hash every file of a bundle (folder, tar or split folder) and check it against SHA256SUMS and bundle.json')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .addOption(
      new Option('--threads <n>', 'hashers: threads (at most 16), or sha256sum processes where the box has a fast one (default: every core)').argParser(
        positiveInt,
      ),
    )
    .option('--base <bundle>', 'for a delta bundle: the base bundle that holds the blobs it leaves out')
    .option('--key <file>', 'release public key: SHA256SUMS.asc must be present and verify against it (an unsigned bundle fails)', nonEmptyPath)
    .option('--require-signature', 'accepted for compatibility: --key already requires a signature')
    .option('--allow-expired', 'accept a bundle past the expiry date in its bundle.json')
    .addHelpText(
      'after',
      entry
        ? examples('./verify', './verify --key release.asc', 'sh ./verify --base ../my-box-1.0.0')
        : examples(
            'vault-bundle verify bundles/quickstart',
            'vault-bundle verify /media/stick/my-box --key release.asc',
            'vault-bundle --json verify my-box.tar --base my-box-1.0.0',
          ),
    )
    .action(async (bundle: string, o: VerifyFlags) => {
      const local = await localBundle(cli, bundle);
      bundle = local.location;
      const { verifyBundle } = await import('../../bundle/verify.js');
      // On a terminal, a progress line while it hashes (files, bytes, rate); a pipe, --json and -q get none.
      const rep = await rendered(cli, (report) =>
        verifyBundle(bundle, {
          threads: o.threads,
          ...(local.hashed ? { hashed: local.hashed } : {}),
          ...(o.base ? { base: o.base } : {}),
          ...(o.key ? { key: o.key } : {}),
          ...(o.requireSignature ? { requireSignature: true } : {}),
          ...(o.allowExpired ? { allowExpired: true } : {}),
          signal: cli.signal,
          report,
        }),
      );
      if (cli.mode === 'json') printJson({ type: 'result', ...rep });
      else await printReport(rep, cli);
      if (!rep.ok) cli.exit(4);
      endAtOnce(); // its threads are stopped and it wrote nothing: the process ends once the output is flushed
    });
  if (entry) {
    cmd.configureHelp({
      commandUsage: () => './verify [options]        (or: sh ./verify [options]; it checks the folder it is in)',
      visibleArguments: () => [],
    });
  }
}

/** The problems on stderr (the cause first), then one OK or FAILED line on stdout, and what to do next. */
async function printReport(rep: VerifyReport, cli: Cli): Promise<void> {
  const { extraSummary, nextStep } = await import('../../bundle/verify.js');
  const quiet = cli.mode === 'quiet';
  const extra = rep.problems.filter((p) => p.code === 'EXTRA_FILE').map((p) => p.path);
  const damage = rep.problems.filter((p) => p.code !== 'EXTRA_FILE');
  if (rep.ignored?.length && !quiet) {
    const some = rep.ignored.slice(0, 3).map(escapeName).join(', ') + (rep.ignored.length > 3 ? ', …' : '');
    printErr(`warning: ignored ${rep.ignored.length} macOS/Windows metadata file(s) (${some}): not part of the bundle, never read\n`);
  }
  // One line per problem: a newline inside a name must not start a line of its own.
  for (const p of damage) printErr(`${p.code}: ${escapeName(p.message)}\n`);
  // Files left in the folder are not damage: one line that says what to do, then the list.
  if (extra.length) printErr(`EXTRA_FILE: ${extraSummary(extra, damage.length === 0, true)}\n${extra.map((p) => `  ${escapeName(p)}\n`).join('')}`);
  const secs = rep.durationMs / 1000;
  // A bundle whose bundle.json cannot be read has no name to show: its folder or file names it.
  const what = rep.name ? escapeName(`${rep.name} ${rep.version ?? ''}`.trim()) : shown(rep.bundle);
  if (rep.ok) {
    const from = [
      rep.parts ? `read from ${rep.parts.count} part(s)` : '',
      rep.base?.checkedIn ? `${rep.base.blobs} blobs checked in the base ${rep.base.name} ${rep.base.version}` : '',
      signatureNote(rep.signature),
      rep.expires ? `${rep.expired ? 'EXPIRED on' : 'expires'} ${rep.expires}` : '',
    ].filter(Boolean);
    cli.emit(
      `OK ${what}: ${rep.files} files, ${formatBytes(rep.bytes)} verified in ${secs.toFixed(2)} s (${formatBytes(rep.bytes / Math.max(secs, 0.001))}/s)${from.length ? `; ${from.join('; ')}` : ''}`,
      rep,
    );
  } else if (!quiet) {
    const why =
      damage.length === 0
        ? `${extra.length} file(s) not in the bundle left in ${shown(rep.bundle)}; the bundle's own files are intact`
        : `${rep.problems.length} problem(s) in ${shown(rep.bundle)}`;
    printOut(rep.name ? `FAILED ${what}: ${why}\n` : `FAILED: ${why}\n`);
    const next = nextStep(rep.problems);
    if (next) printErr(`hint: ${next}\n`);
  }
}
