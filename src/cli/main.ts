#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { fstatSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { LoadedManifest } from '../manifest/load.js';
import { InterruptedError, UsageError, VaultError, isAbort } from '../util/errors.js';
import { removeTempsSync, writeFileAtomic } from '../util/fs.js';
import { limits } from '../util/limits.js';
import { TOOL } from '../version.js';
import { formatBytes, parseBytes } from './format.js';
import { type OutputMode, makeRenderer } from './render.js';
import { registerExportOci } from './commands/export-oci.js';
import type { CommandDeps } from './commands/oci-common.js';
import { registerPull } from './commands/pull.js';
import { registerPush } from './commands/push.js';

interface GlobalOpts {
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  cacheDir?: string;
  concurrency: number;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

/** A file option given empty (`--key ""`, `--key=$UNSET`) would otherwise read as not given: a key check skipped. */
function nonEmptyPath(v: string): string {
  if (!v.trim()) throw new InvalidArgumentError('expected a file path, got an empty value');
  return v;
}

/** A path as the user reads it: relative to here when that is short (no climbing out twice), else absolute. */
function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return !r ? p : r.startsWith('../..') ? resolve(p) : r;
}

function byteSize(v: string): number {
  const n = parseBytes(v);
  if (n === undefined || n < 1024 * 1024) throw new InvalidArgumentError('expected a size of at least 1 MiB, such as 1GiB or 700MB');
  return n;
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a fraction such as 0.1 (10 %)');
  return n;
}

/** Runs the CLI on argv; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  // Every request in flight listens on this one signal; --concurrency 16 is not a leak.
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) {
      // Quit at once, but not leaving hundreds of MB of temp files: they go synchronously first.
      removeTempsSync();
      process.exit(130);
    }
    process.stderr.write('\ninterrupting: cleaning up (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  let exitCode = 0;
  let mode: OutputMode = process.stderr.isTTY ? 'tty' : 'plain';
  let debug = false;
  const program = new Command('vault-bundle')
    .description('Build, verify and inspect offline bundles for air-gapped GPU boxes.')
    .version(TOOL.version)
    .option('--json', 'machine-readable output: JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--debug', 'show stack traces of internal errors')
    .option('--cache-dir <dir>', 'shared blob cache (default: $VAULT_BUNDLE_CACHE or $XDG_CACHE_HOME/vault-bundle)')
    .addOption(new Option('--concurrency <n>', 'parallel downloads').argParser(positiveInt).default(limits.concurrency))
    .showHelpAfterError('(add --help for the options)')
    // Each command's --help also lists --json, --cache-dir, --concurrency…: they are given before the command.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program.hook('preAction', () => {
    const g = program.opts<GlobalOpts>();
    debug = Boolean(g.debug);
    mode = g.json ? 'json' : g.quiet ? 'quiet' : mode;
  });

  const g = () => program.opts<GlobalOpts>();
  const emit = (human: string, data: unknown) => {
    if (mode === 'json') process.stdout.write(`${JSON.stringify({ type: 'result', ...(data as object) })}\n`);
    else if (mode !== 'quiet') process.stdout.write(`${human}\n`);
  };
  const ociDeps: CommandDeps = { mode: () => mode, emit, signal: controller.signal, concurrency: () => g().concurrency, cacheDir: () => (g().cacheDir ? resolve(g().cacheDir!) : undefined) };
  /** verify/install of `oci://registry/repo:tag`: pulled into the cache first; any other argument as it is. */
  const openArg = async (arg: string, report: ReturnType<typeof makeRenderer>['report']) => {
    if (!arg.startsWith('oci://')) return arg;
    const [{ bundleArg }, { defaultCacheDir }] = await Promise.all([import('../oci/open.js'), import('../context.js')]);
    return bundleArg(arg, { cacheDir: ociDeps.cacheDir() ?? defaultCacheDir(), concurrency: g().concurrency, report, signal: controller.signal });
  };
  // Commands load their modules when they run: verify on the box never pays for apt, pip, HF or the SBOM
  // library, and start-up stays short (esbuild keeps dynamic imports lazy in the packed script too).
  const ctxFor = async (report: ReturnType<typeof makeRenderer>['report']) => {
    const { makeBuildCtx } = await import('../context.js');
    return (m: LoadedManifest) => makeBuildCtx({
      cacheDir: g().cacheDir ? resolve(g().cacheDir!) : undefined,
      report,
      signal: controller.signal,
      manifestPath: shown(m.path),
      baseDir: m.dir,
      target: m.manifest.target,
    });
  };

  program
    .command('lock')
    .description('resolve every artifact of a manifest and write <manifest>.lock.json')
    .argument('<manifest>', 'manifest YAML file')
    .option('-o, --out <file>', 'where to write the lock (default: next to the manifest)')
    .option('--target <probe>', 'the box\'s probe file (vault-bundle probe): lock only what that box lacks')
    .action(async (manifest: string, o: { out?: string; target?: string }) => {
      const r = makeRenderer(mode);
      try {
        const { lockCommand } = await import('../commands/lock.js');
        const { path, lock } = await lockCommand({ manifest, out: o.out, ...(o.target ? { target: o.target } : {}) }, await ctxFor(r.report));
        r.finish();
        emit(`locked ${lock.artifacts.length} artifacts in ${shown(path)}`, {
          lock: path,
          artifacts: lock.artifacts.length,
        });
      } finally {
        r.finish();
      }
    });

  program
    .command('build')
    .description('lock (if needed), fetch and write a content-addressed bundle with SBOM and SHA256SUMS')
    .argument('<manifest>', 'manifest YAML file')
    .option('-o, --out <dir>', 'bundle folder (default: bundles/<name>)')
    .option('--tar <file>', 'also write the bundle as one reproducible tar file')
    .option('--lock <file>', 'lock file (default: <manifest>.lock.json)')
    .option('--locked', 'use the lock as it is; never resolve anything (fails if it is missing or the manifest changed since); without it, a changed manifest is locked again, keeping the pins of unchanged sections')
    .option('--frozen', 'the same as --locked')
    .option('--runtime <mode>', 'carry node and the packed tool (./verify on a box without Node.js): auto (host if it fits the target, else registry), host, registry[@version] (the official node-linux-<arch> from the npm registry), none', 'auto')
    .option('--target <probe>', 'the box\'s probe file (vault-bundle probe): bundle only what that box lacks')
    .addOption(new Option('--media <kind>', 'dir: a folder; tar: also <out>.tar; fat32: blobs in parts under 4 GiB with parts.json').choices(['dir', 'tar', 'fat32']).default('dir'))
    .addOption(new Option('--part-size <size>', 'largest part for --media fat32 (e.g. 1GiB; default just under 4 GiB)').argParser(byteSize))
    .option('--base <bundle>', 'build a delta: write only the blobs this older bundle (or its bundle.json) lacks')
    .option('--sign-key <file>', 'sign the bundle with this OpenPGP secret key (as "vault-bundle sign" does)', nonEmptyPath)
    .option('--passphrase-file <file>', 'first line: the passphrase of a protected --sign-key', nonEmptyPath)
    .option('--expires <when>', 'the bundle expires then: an ISO date (2027-06-30) or a duration from its created time (90d, 12w)')
    .action(async (manifest: string, o: { out?: string; tar?: string; lock?: string; locked?: boolean; frozen?: boolean; runtime: string; target?: string; media: 'dir' | 'tar' | 'fat32'; partSize?: number; base?: string; signKey?: string; passphraseFile?: string; expires?: string }) => {
      if (mode === 'json' && o.tar && isStdout(o.tar)) {
        throw new UsageError({ code: 'BAD_FLAG', message: '--json writes its records to stdout, where --tar sends the tar', hint: 'leave out --json, or write the tar to a file' });
      }
      const r = makeRenderer(mode);
      try {
        const { buildCommand } = await import('../commands/build.js');
        const res = await buildCommand(
          {
            manifest,
            out: o.out,
            tar: o.tar,
            lock: o.lock,
            frozen: Boolean(o.frozen || o.locked),
            concurrency: g().concurrency,
            runtime: o.runtime, ...(o.target ? { target: o.target } : {}),
            media: o.media,
            ...(o.partSize ? { partSize: o.partSize } : {}),
            ...(o.base ? { base: o.base } : {}),
            ...(o.signKey ? { signKey: o.signKey } : {}),
            ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}),
            ...(o.expires ? { expires: o.expires } : {}),
          },
          await ctxFor(r.report),
        );
        r.finish();
        const rel = shown;
        // `--tar /dev/stdout | ssh box …`: the summary must not land in the tar stream.
        const say = res.tar && isStdout(res.tar) && mode !== 'json' ? (human: string) => mode !== 'quiet' && process.stderr.write(`${human}\n`) : emit;
        say(
          `built ${rel(res.dir)}: ${res.lock.artifacts.length} artifacts, ${res.files} files in SHA256SUMS, ${formatBytes(res.bytes)}` +
            `${res.lockResolved ? ` (locked into ${rel(res.lockPath)})` : ''}${res.tar ? `; tar ${rel(res.tar)}` : ''}` +
            `${res.parts ? `; blobs in ${res.parts} part(s) with parts.json` : ''}` +
            `${res.base ? `; a delta over ${res.base.name} ${res.base.version} (${res.base.blobs} blobs left to it)` : ''}` +
            `${res.signer ? `; signed by ${res.signer}` : ''}${res.expires ? `; expires ${res.expires}` : ''}`,
          { dir: res.dir, tar: res.tar, lock: res.lockPath, lockResolved: res.lockResolved, files: res.files, bytes: res.bytes, parts: res.parts, base: res.base, signer: res.signer, expires: res.expires },
        );
      } finally {
        r.finish();
      }
    });

  const verifyCmd = program
    .command('verify')
    .description('re-hash every file of a bundle (folder, tar or split folder) and check it against SHA256SUMS and bundle.json')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .addOption(new Option('--threads <n>', 'hashing threads (default: every core)').argParser(positiveInt))
    .option('--base <bundle>', 'for a delta bundle: the base bundle that holds the blobs it leaves out')
    .option('--key <file>', 'release public key: SHA256SUMS.asc must be present and verify against it (an unsigned bundle fails)', nonEmptyPath)
    .option('--require-signature', 'accepted for compatibility: --key already requires a signature')
    .option('--allow-expired', 'accept a bundle past the expiry date in its bundle.json')
    .action(async (bundle: string, o: { threads?: number; base?: string; key?: string; requireSignature?: boolean; allowExpired?: boolean }) => {
      const { verifyBundle } = await import('../bundle/verify.js');
      if (bundle.startsWith('oci://')) {
        const r = makeRenderer(mode);
        bundle = await openArg(bundle, r.report).finally(() => r.finish());
      }
      const rep = await verifyBundle(bundle, {
        threads: o.threads,
        ...(o.base ? { base: o.base } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.requireSignature ? { requireSignature: true } : {}),
        ...(o.allowExpired ? { allowExpired: true } : {}),
        signal: controller.signal,
      });
      if (mode === 'json') {
        process.stdout.write(`${JSON.stringify({ type: 'result', ...rep })}\n`);
      } else {
        const { extraSummary, nextStep } = await import('../bundle/verify.js');
        const extra = rep.problems.filter((p) => p.code === 'EXTRA_FILE').map((p) => p.path);
        const damage = rep.problems.filter((p) => p.code !== 'EXTRA_FILE');
        if (rep.ignored?.length && mode !== 'quiet') {
          const some = rep.ignored.slice(0, 3).join(', ') + (rep.ignored.length > 3 ? ', …' : '');
          process.stderr.write(`warning: ignored ${rep.ignored.length} macOS/Windows metadata file(s) (${some}): not part of the bundle, never read\n`);
        }
        for (const p of damage) process.stderr.write(`${p.code}: ${p.message}\n`);
        // Files left in the folder are not damage: one line that says what to do, then the list.
        if (extra.length) process.stderr.write(`EXTRA_FILE: ${extraSummary(extra, damage.length === 0, true)}\n${extra.map((p) => `  ${p}\n`).join('')}`);
        const secs = rep.durationMs / 1000;
        // A bundle whose bundle.json cannot be read has no name to show: its folder or file names it.
        const what = rep.name ? `${rep.name} ${rep.version ?? ''}`.trim() : shown(rep.bundle);
        if (rep.ok) {
          const from = [
            rep.parts ? `read from ${rep.parts.count} part(s)` : '',
            rep.base?.checkedIn ? `${rep.base.blobs} blobs checked in the base ${rep.base.name} ${rep.base.version}` : '',
            signatureNote(rep.signature),
            rep.expires ? `${rep.expired ? 'EXPIRED on' : 'expires'} ${rep.expires}` : '',
          ].filter(Boolean);
          emit(
            `OK ${what}: ${rep.files} files, ${formatBytes(rep.bytes)} verified in ${secs.toFixed(2)} s (${formatBytes(rep.bytes / Math.max(secs, 0.001))}/s)${from.length ? `; ${from.join('; ')}` : ''}`,
            rep,
          );
        } else if (mode !== 'quiet') {
          const why = damage.length === 0 ? `${extra.length} file(s) not in the bundle left in ${shown(rep.bundle)}; the bundle's own files are intact` : `${rep.problems.length} problem(s) in ${shown(rep.bundle)}`;
          process.stdout.write(rep.name ? `FAILED ${what}: ${why}\n` : `FAILED: ${why}\n`);
          const next = nextStep(rep.problems);
          if (next) process.stderr.write(`hint: ${next}\n`);
        }
      }
      if (!rep.ok) exitCode = 4;
    });
  // Run through a bundle's ./verify, the bundle is the folder that script is in: its help says so.
  if (process.env.VAULT_BUNDLE_ENTRY === './verify') {
    verifyCmd.configureHelp({
      commandUsage: () => './verify [options]        (or: sh ./verify [options]; it checks the folder it is in)',
      visibleArguments: () => [],
    });
  }

  program
    .command('sign')
    .description('sign a bundle folder or split folder: SHA256SUMS.asc (gpg --verify SHA256SUMS.asc SHA256SUMS) and its apt repository\'s InRelease')
    .argument('<bundle>', 'bundle folder or split (fat32) folder (a tar: sign the folder, then build --media tar)')
    .requiredOption('--key <file>', 'OpenPGP secret key file (gpg --export-secret-keys [--armor])', nonEmptyPath)
    .option('--passphrase-file <file>', 'first line: the passphrase of a protected key', nonEmptyPath)
    .action(async (bundle: string, o: { key: string; passphraseFile?: string }) => {
      const r = makeRenderer(mode);
      try {
        const { signCommand } = await import('../commands/sign.js');
        const res = await signCommand({ bundle, key: o.key, ...(o.passphraseFile ? { passphraseFile: o.passphraseFile } : {}), report: r.report });
        r.finish();
        const rel = shown(res.bundle);
        emit(
          `signed ${rel} by ${res.signer}: ${res.written.join(', ')}${res.aptPackages ? ` (apt repository of ${res.aptPackages} packages)` : ''}\n` +
            `check anywhere with: gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum --strict -c SHA256SUMS`,
          res,
        );
      } finally {
        r.finish();
      }
    });

  program
    .command('inspect')
    .description('show what a bundle holds: artifacts by kind with versions and sizes, totals, metadata')
    .argument('<bundle>', 'bundle folder or tar file')
    .action(async (bundle: string) => {
      const { inspectCommand } = await import('../commands/inspect.js');
      const r = await inspectCommand(bundle);
      const lines = [
        `${r.name} ${r.version}${r.description ? ` — ${r.description}` : ''}`,
        `created ${r.created} by ${r.tool.name} ${r.tool.version}; target ${r.target.os} ${r.target.arch}${r.target.python ? ` python ${r.target.python}` : ''}`,
        `${r.totals.artifacts} artifacts, ${formatBytes(r.totals.bytes)}`,
      ];
      const probe = r.target.probe;
      if (probe) lines.push(`built for the box ${probe.hostname} (probe of ${probe.created}, ${probe.digest.slice(0, 19)}…): only what it lacked`);
      if (r.parts) lines.push(`split for FAT32: ${r.parts.count} part(s), ${formatBytes(r.parts.bytes)}`);
      if (r.base) lines.push(`a delta over ${r.base.name} ${r.base.version}: ${r.base.blobs} blob(s) come from that base bundle`);
      lines.push(`${r.signed ? 'signed (SHA256SUMS.asc; check it with verify --key)' : 'unsigned'}${r.expires ? `; expires ${r.expires}${Date.parse(r.expires) < Date.now() ? ' (EXPIRED)' : ''}` : ''}`);
      const { installText } = await import('../sbom/install.js');
      for (const x of r.specialModes) lines.push(`ATTENTION: ${x.name} installs to ${installText(x.install)}`);
      for (const [kind, k] of Object.entries(r.byKind)) {
        lines.push('', `${kind}: ${k.count} (${formatBytes(k.bytes)})`);
        const w = Math.max(...k.artifacts.map((a) => a.name.length));
        const v = Math.max(...k.artifacts.map((a) => a.version.length));
        for (const a of k.artifacts) {
          lines.push(`  ${a.name.padEnd(w)}  ${a.version.padEnd(v)}  ${formatBytes(a.size).padStart(10)}${a.install ? `  → ${installText(a.install)}` : ''}`);
        }
      }
      emit(lines.join('\n'), r);
    });

  program
    .command('install')
    .description('verify a bundle, then install it on this box: files, apt packages, wheels, models (no network)')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder (read in place, never extracted whole)')
    .option('-n, --dry-run', 'show what would be installed; change nothing (no journal either)')
    .option('--base <bundle>', 'for a delta bundle: the base bundle (default: where the journal says it was installed from)')
    .option('--state-dir <dir>', 'where the install journal is kept (default: /var/lib/vault-bundle as root)')
    .option('--only <kinds>', 'comma-separated kinds to install (file,apt,pip,hf)')
    .option('--flat <dir>', 'also write each model as real files under <dir>/<org>/<name> (no symlinks)')
    .option('--key <file>', 'release public key: the signature must be present and verify, and apt checks the bundle\'s signed repository with it (signed-by)', nonEmptyPath)
    .option('--require-signature', 'accepted for compatibility: --key already requires a signature')
    .option('--allow-downgrade', 'install even if this box has a newer version of this bundle installed')
    .option('--allow-expired', 'install a bundle past the expiry date in its bundle.json')
    .option('--ignore-target', "install on a box that is not the bundle's target (OS release, architecture, Python): warn instead of refusing")
    .action(async (bundle: string, o: { dryRun?: boolean; stateDir?: string; only?: string; flat?: string; base?: string; key?: string; requireSignature?: boolean; allowDowngrade?: boolean; allowExpired?: boolean; ignoreTarget?: boolean }) => {
      const r = makeRenderer(mode);
      try {
        const { installCommand } = await import('../commands/install.js');
        const { execFile } = await import('../util/exec.js');
        const res = await installCommand({
          bundle: await openArg(bundle, r.report),
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
          exec: execFile,
          report: r.report,
          signal: controller.signal,
        });
        r.finish();
        const sig = signatureNote(res.signature);
        const lines = [`${res.dryRun ? 'dry run: ' : ''}${res.name} ${res.version}`, `  verified (${(res.verifyMs / 1000).toFixed(1)} s)${sig ? `; ${sig}` : ''}`];
        for (const rep of res.reports) {
          lines.push(
            `  ${rep.kind}: ${rep.changed.length} ${res.dryRun ? 'to install' : 'installed'}, ${rep.unchanged.length} already in place (${(rep.ms / 1000).toFixed(1)} s)`,
          );
          for (const c of rep.changed) lines.push(`    + ${c}`);
        }
        if (res.reports.every((x) => x.changed.length === 0)) lines.push('  nothing to do: everything is already installed');
        emit(lines.join('\n'), res);
      } finally {
        r.finish();
      }
    });

  program
    .command('smoke')
    .description('smoke-test this box with no network: GPUs, torch, bandwidth, NCCL, bundled models, inference; writes results.json, junit.xml, thermal.csv/svg')
    .option('--bundle <dir>', "bundle folder: its models are loaded and run, its NVIDIA driver branch is expected")
    .option('-o, --out <dir>', 'results folder (default: smoke-results here, or beside the bundle folder when run inside one)')
    .option('--only <checks>', 'comma-separated check ids or areas (gpu, nccl, models, inference, gpu.matmul, …); what they need runs too')
    .option('--save-baseline <file>', "save this run's metrics as a baseline (only when nothing failed)")
    .option('--baseline <file>', 'compare with a saved baseline (same GPU, driver, CUDA, torch, vLLM); a regression fails')
    .addOption(new Option('--tolerance <fraction>', 'allowed regression against --baseline').argParser(fraction).default(0.1))
    .option('--netns', 'run inside a new network namespace with no interfaces (unshare -n; root)')
    .addOption(new Option('--expect-gpus <n>', 'number of GPUs this box must have').argParser(positiveInt))
    .option('--expect-model <name>', "GPU model every GPU must be (part of nvidia-smi's name, e.g. H200)")
    .option('--python <path>', 'python for the probes (default: /opt/vault-ai/venv/bin/python when it imports torch, else python3)')
    .action(async (o: { bundle?: string; out?: string; only?: string; saveBaseline?: string; baseline?: string; tolerance: number; netns?: boolean; expectGpus?: number; expectModel?: string; python?: string }) => {
      if (o.netns) {
        const { reexecInNetns } = await import('../checks/netns.js');
        const code = await reexecInNetns({ warn: (m) => process.stderr.write(`warning: ${m}\n`) });
        if (code !== undefined) {
          exitCode = code;
          return;
        }
      }
      const r = makeRenderer(mode);
      try {
        const { smokeCommand } = await import('../commands/smoke.js');
        const res = await smokeCommand({
          bundle: o.bundle,
          ...(o.out ? { out: o.out } : {}),
          only: o.only?.split(',').map((s) => s.trim()).filter(Boolean),
          options: {
            expect: { ...(o.expectGpus !== undefined ? { count: o.expectGpus } : {}), ...(o.expectModel ? { model: o.expectModel } : {}) },
            ...(o.python ? { python: o.python } : {}),
          },
          saveBaseline: o.saveBaseline,
          baseline: o.baseline,
          tolerance: o.tolerance,
          report: r.report,
          signal: controller.signal,
        });
        r.finish();
        const where = shown(res.outDir);
        emit(`${res.summary.trimEnd()}\nresults in ${where}${res.savedBaseline ? `; baseline saved to ${shown(res.savedBaseline)}` : ''}`, { ...res.report, outDir: res.outDir, files: res.files });
        exitCode = res.exitCode;
      } finally {
        r.finish();
      }
    });

  program
    .command('why')
    .description('show the chain of dependents that pulled a package into a lock or bundle')
    .argument('<from>', 'manifest (its lock is read), lock file or bundle folder')
    .argument('<package>', 'package name')
    .action(async (from: string, pkg: string) => {
      const { whyCommand } = await import('../commands/why.js');
      const r = await whyCommand(from, pkg);
      emit(r.chain.map((c) => c.join('\n  ')).join('\n\n'), r);
    });

  program
    .command('audit')
    .description("match a bundle's debs (Debian, Ubuntu) and wheels (PyPI) against OSV vulnerability records, offline; exit 1 at or above --fail-on")
    .argument('<bundle>', 'bundle folder, tar file, split (fat32) folder, or its bundle.json')
    .requiredOption('--osv <path>', 'OSV records: a folder of .json files, an ecosystem all.zip of the OSV export, or one record file (repeat for several)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity (unknown counts as medium)').choices(['any', 'low', 'medium', 'high', 'critical', 'never']).default('high'))
    .option('--allow-uncovered', 'exit 0 even when the OSV data has no record at all for an ecosystem of the bundle (default: exit 7, since its packages were not checked)')
    .action(async (bundle: string, o: { osv: string[]; failOn: 'any' | 'low' | 'medium' | 'high' | 'critical' | 'never'; allowUncovered?: boolean }) => {
      const r = makeRenderer(mode);
      try {
        const { EXIT_UNCOVERED, auditCommand, auditText } = await import('../commands/audit.js');
        const res = await auditCommand({ bundle, osv: o.osv, failOn: o.failOn, ...(o.allowUncovered ? { allowUncovered: true } : {}), report: r.report });
        r.finish();
        emit(auditText(res), res);
        // Findings over the gate come first; an audit that could not check everything is never a clean 0.
        if (res.failing > 0) exitCode = 1;
        else if (res.incomplete) {
          process.stderr.write(`error: the OSV data has no record for ${res.summary.uncovered.join(', ')}: the bundle's packages of ${res.summary.uncovered.length > 1 ? 'those ecosystems' : 'that ecosystem'} were not checked\n`);
          process.stderr.write('hint: add those ecosystems\' OSV export with --osv, or accept an incomplete audit with --allow-uncovered\n');
          exitCode = EXIT_UNCOVERED;
        }
      } finally {
        r.finish();
      }
    });

  program
    .command('probe')
    .description('read this box (OS, dpkg status, Python and wheel tags, venv, GPUs, CUDA, models, installed bundles) into a file for build --target')
    .option('-o, --out <file>', 'where to write the probe (default: box.json here, or beside the bundle folder when run inside one)')
    .option('--venv <dir>', 'the virtual environment pip installs into', '/opt/vault-ai/venv')
    .option('--hf-home <dir>', 'HF_HOME of the models (default: $HF_HOME, else /opt/vault-ai/models)')
    .option('--state-dir <dir>', 'where vault-bundle install keeps its journal (default: /var/lib/vault-bundle, then ~/.local/state/vault-bundle)')
    .action(async (o: { out?: string; venv: string; hfHome?: string; stateDir?: string }) => {
      const { probeCommand } = await import('../commands/probe.js');
      const { execFile } = await import('../util/exec.js');
      const res = await probeCommand({ ...(o.out ? { out: o.out } : {}), venv: o.venv, ...(o.hfHome ? { hfHome: o.hfHome } : {}), ...(o.stateDir ? { stateDir: o.stateDir } : {}), exec: execFile });
      if (mode !== 'quiet') for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
      emit(`${res.summary}\nwrote ${shown(res.path)} (${formatBytes(res.bytes)}); give it to "vault-bundle build <manifest> --target" on the build host`, { path: res.path, bytes: res.bytes, hostname: res.probe.hostname, absent: res.absent });
    });

  program
    .command('schema')
    .description('print (or write) the JSON Schema of manifests, for editor completion')
    .option('-o, --out <file>', 'write it to this file')
    .action(async (o: { out?: string }) => {
      const { manifestJsonSchema } = await import('../manifest/schema.js');
      const text = `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
      if (o.out) await writeFileAtomic(o.out, text);
      else process.stdout.write(text);
    });

  // The security reviewer's views: sbom, diff, report.
  program
    .command('sbom')
    .description('print the bill of materials of a bundle: CycloneDX as shipped, SPDX 2.3 JSON, or a license summary')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .addOption(new Option('--format <format>', 'cyclonedx: sbom.cdx.json as shipped; spdx: SPDX 2.3 JSON; licenses: counts by license, unknowns listed').choices(['cyclonedx', 'spdx', 'licenses']).default('cyclonedx'))
    .option('-o, --out <file>', 'write it to this file instead of stdout')
    .action(async (bundle: string, o: { format: 'cyclonedx' | 'spdx' | 'licenses'; out?: string }) => {
      const { sbomCommand } = await import('../commands/sbom.js');
      const r = await sbomCommand({ bundle, format: o.format });
      const text = r.text.endsWith('\n') ? r.text : `${r.text}\n`;
      const head = { bundle: r.bundle, name: r.name, version: r.version, format: r.format };
      if (o.out) {
        await writeFileAtomic(o.out, text);
        emit(`wrote ${o.format} of ${r.name} ${r.version} to ${o.out}`, { ...head, out: resolve(o.out), ...(r.licenses ? { licenses: r.licenses } : {}) });
      } else if (mode === 'json') {
        emit('', { ...head, ...(r.licenses ? { licenses: r.licenses } : { document: JSON.parse(r.text) as unknown }) });
      } else {
        process.stdout.write(text);
      }
    });

  program
    .command('diff')
    .description('what changed between two bundles: components added, removed, upgraded, downgraded by purl; same version with other bytes; size')
    .argument('<old>', 'the older bundle (folder, tar or split folder), or its bundle.json')
    .argument('<new>', 'the newer bundle, or its bundle.json')
    .option('--changelog', 'print a Markdown section for release notes instead')
    .action(async (oldB: string, newB: string, o: { changelog?: boolean }) => {
      const { diffCommand } = await import('../commands/diff.js');
      const r = await diffCommand({ old: oldB, new: newB, changelog: Boolean(o.changelog) });
      const { text, changelog, ...data } = r;
      if (mode === 'json') emit('', { ...data, ...(changelog ? { changelog } : {}) });
      else if (changelog) {
        // The Markdown stays clean for release notes; the warning goes where a person sees it.
        for (const u of r.unverified ?? []) process.stderr.write(`warning: ${u}\n`);
        process.stdout.write(changelog);
      }
      else emit(text, data);
    });

  program
    .command('report')
    .description('one self-contained HTML page about a bundle: metadata, signature, components with search, licenses, audit, changes since a base')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .option('-o, --out <file>', 'write the page to this file (default: stdout, as in "report <bundle> > report.html")')
    .option('--base <bundle>', 'an older bundle: add what changed since')
    .option('--audit <file>', 'audit findings to show (vault-bundle audit --json: a JSON array of {id, severity, package, version, summary})')
    .option('--key <file>', 'release public key to check SHA256SUMS.asc with', nonEmptyPath)
    .action(async (bundle: string, o: { out?: string; base?: string; audit?: string; key?: string }) => {
      const { reportCommand } = await import('../commands/report.js');
      const r = await reportCommand({ bundle, ...(o.base ? { base: o.base } : {}), ...(o.audit ? { audit: o.audit } : {}), ...(o.key ? { key: o.key } : {}) });
      const { html, ...data } = r;
      if (o.out) {
        await writeFileAtomic(o.out, html);
        emit(`wrote ${o.out}: ${r.name} ${r.version}, ${r.components} components; ${r.signature.text}`, { ...data, out: resolve(o.out) });
      } else if (mode === 'json') {
        emit('', { ...data, html });
      } else {
        process.stdout.write(html);
      }
    });

  registerPush(program, ociDeps);
  registerPull(program, ociDeps);
  registerExportOci(program, ociDeps);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    exitCode = reportError(err, mode, debug, controller.signal.aborted);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  return exitCode;
}

/** Whether `path` is this process's stdout (the same file, pipe or device). */
function isStdout(path: string): boolean {
  try {
    const a = fstatSync(1);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** One phrase for the signature in verify's and install's summary line; nothing for an unsigned bundle checked without a key (with a key, unsigned fails). */
function signatureNote(s: { status: string; signer?: string } | undefined): string {
  if (!s) return '';
  if (s.status === 'valid') return `signature by ${s.signer ?? '?'} valid`;
  if (s.status === 'unchecked') return 'signed, signature not checked (give --key)';
  return '';
}

function reportError(err: unknown, mode: OutputMode, debug: boolean, interrupted: boolean): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 64;
  }
  // Ctrl-C reaches code in the middle of a request, a stream or a timer, which throw their own AbortError
  // (wrapped or not): that is the interruption, never a bug. After Ctrl-C any other failure that is not one
  // of ours is the abort tearing something down half-way, also no bug to report; --debug still shows it.
  if (!(err instanceof InterruptedError) && (isAbort(err) || (interrupted && !(err instanceof VaultError)))) {
    if (debug) process.stderr.write(`cause: ${err instanceof Error ? err.stack : String(err)}\n`);
    err = new InterruptedError();
  }
  if (err instanceof VaultError) {
    if (mode === 'json') {
      process.stdout.write(
        `${JSON.stringify({ type: 'error', code: err.code, message: err.message, hint: err.hint, subject: err.subject })}\n`,
      );
    }
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.cause) process.stderr.write(`cause: ${String((err.cause as Error)?.stack ?? err.cause)}\n`);
    return err.exitCode;
  }
  process.stderr.write(`internal error (please report): ${err instanceof Error ? err.message : String(err)}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('run again with --debug for details\n');
  return 70;
}


