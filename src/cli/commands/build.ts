import { type Command, Option } from 'commander';
import type { BuildOptions, BuildResult } from '../../bundle/publish.js';
import { UsageError } from '../../util/errors.js';
import { type Cli, byteSize, examples, isStdout, nonEmptyPath, rendered, shown } from '../common.js';
import type { FetchTally } from '../../fetch/download.js';
import { formatBytes, formatElapsed } from '../../util/format.js';
import { printErr } from '../out.js';

interface BuildFlags {
  out?: string;
  tar?: string;
  lock?: string;
  locked?: boolean;
  frozen?: boolean;
  runtime: string;
  target?: string;
  media: 'dir' | 'tar' | 'fat32';
  partSize?: number;
  base?: string;
  signKey?: string;
  passphraseFile?: string;
  expires?: string;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('build')
    .description('lock (if needed), fetch and write a content-addressed bundle with SBOM and SHA256SUMS')
    .argument('<manifest>', 'manifest YAML file')
    .option('-o, --out <dir>', 'bundle folder (default: bundles/<name>)')
    .option('--tar <file>', 'also write the bundle as one reproducible tar file')
    .option('--lock <file>', 'lock file (default: <manifest>.lock.json)')
    .option(
      '--locked',
      'use the lock as it is; never resolve anything (fails if it is missing or the manifest changed since); without it, a changed manifest is locked again, keeping the pins of unchanged sections',
    )
    .option('--frozen', 'the same as --locked')
    .option(
      '--runtime <mode>',
      'carry node and the packed tool (./verify on a box without Node.js): auto (host if it fits the target, else registry), host, registry[@version] (the official node-linux-<arch> from the npm registry), none',
      'auto',
    )
    .option('--target <probe>', "the box's probe file (vault-bundle probe): bundle only what that box lacks")
    .addOption(
      new Option('--media <kind>', 'dir: a folder; tar: also <out>.tar; fat32: blobs in parts under 4 GiB with parts.json')
        .choices(['dir', 'tar', 'fat32'])
        .default('dir'),
    )
    .addOption(new Option('--part-size <size>', 'largest part for --media fat32 (e.g. 1GiB; default just under 4 GiB)').argParser(byteSize))
    .option('--base <bundle>', 'build a delta: write only the blobs this older bundle (or its bundle.json) lacks')
    .option('--sign-key <file>', 'sign the bundle with this OpenPGP secret key (as "vault-bundle sign" does)', nonEmptyPath)
    .option('--passphrase-file <file>', 'first line: the passphrase of a protected --sign-key', nonEmptyPath)
    .option('--expires <when>', 'the bundle expires then: an ISO date (2027-06-30) or a duration from its created time (90d, 12w)')
    .addHelpText(
      'after',
      examples(
        'vault-bundle build manifests/quickstart.yaml',
        'vault-bundle build my-box.yaml --locked --media fat32 --sign-key release.sec --expires 90d',
        'vault-bundle build my-box.yaml --base bundles/my-box-1.0.0 -o bundles/my-box-1.1.0-delta',
      ),
    )
    .action(async (manifest: string, o: BuildFlags) => {
      if (cli.mode === 'json' && o.tar && isStdout(o.tar)) {
        throw new UsageError({
          code: 'BAD_FLAG',
          message: '--json writes its records to stdout, where --tar sends the tar',
          hint: 'leave out --json, or write the tar to a file',
        });
      }
      const { buildBundle } = await import('../../bundle/publish.js');
      const res = await rendered(cli, async (report) => buildBundle(buildOptions(manifest, o, cli), await cli.ctxFor(report)));
      // `--tar /dev/stdout | ssh box …`: the summary must not land in the tar stream.
      const say = res.tar && isStdout(res.tar) && cli.mode !== 'json' ? (human: string) => cli.mode !== 'quiet' && printErr(`${human}\n`) : cli.emit;
      say(builtText(res), {
        dir: res.dir,
        tar: res.tar,
        lock: res.lockPath,
        lockResolved: res.lockResolved,
        files: res.files,
        bytes: res.bytes,
        parts: res.parts,
        base: res.base,
        signer: res.signer,
        expires: res.expires,
        fetch: res.fetch,
        copies: res.copies,
        durationMs: res.durationMs,
      });
    });
}

/** The flags as the library's typed options. */
function buildOptions(manifest: string, o: BuildFlags, cli: Cli): BuildOptions {
  return {
    manifest,
    out: o.out,
    tar: o.tar,
    lock: o.lock,
    frozen: Boolean(o.frozen || o.locked),
    concurrency: cli.globals.concurrency,
    ...(cli.globals.streams !== undefined ? { streams: cli.globals.streams } : {}),
    runtime: o.runtime,
    ...(o.target ? { target: o.target } : {}),
    media: o.media,
    ...(o.partSize ? { partSize: o.partSize } : {}),
    ...(o.base ? { base: o.base } : {}),
    ...(o.signKey ? { signKey: o.signKey } : {}),
    ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
    ...(o.expires ? { expires: o.expires } : {}),
  };
}

function builtText(res: BuildResult): string {
  return (
    `built ${shown(res.dir)}: ${res.lock.artifacts.length} artifacts, ${res.files} files in SHA256SUMS, ${formatBytes(res.bytes)}` +
    `${res.lockResolved ? ` (locked into ${shown(res.lockPath)})` : ''}${res.tar ? `; tar ${shown(res.tar)}` : ''}` +
    `${res.parts ? `; blobs in ${res.parts} part(s) with parts.json` : ''}` +
    `${res.base ? `; a delta over ${res.base.name} ${res.base.version} (${res.base.blobs} blobs left to it)` : ''}` +
    `${res.signer ? `; signed by ${res.signer}` : ''}${res.expires ? `; expires ${res.expires}` : ''}` +
    `; took ${formatElapsed(res.durationMs)}, ${fetchedText(res.fetch)}`
  );
}

/** `fetched 40 file(s) (1.20 GiB, 2 resumed), 522 from the cache (1.44 GiB)`: where the bytes came from. */
function fetchedText(t: FetchTally): string {
  const resumed = t.resumed ? `, ${t.resumed} resumed` : '';
  const got = t.downloadedFiles ? `fetched ${t.downloadedFiles} file(s) (${formatBytes(t.bytes - t.cachedBytes)}${resumed})` : 'fetched nothing';
  const cache = t.cachedFiles ? `, ${t.cachedFiles} from the cache (${formatBytes(t.cachedBytes)})` : '';
  return `${got}${cache}`;
}
