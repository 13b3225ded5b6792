#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { removeTempsSync, sweepDeadTemps } from '../util/fs.js';
import { limits } from '../util/limits.js';
import { TOOL } from '../version.js';
import { type Cli, type GlobalOpts, positiveInt, shown } from './common.js';
import { verbs } from './commands/index.js';
import type { OutputMode } from './render.js';
import { printErr, printJson, printOut } from './out.js';
import { reportError } from './errors.js';

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
    printErr('\ninterrupting: cleaning up (press Ctrl-C again to quit at once)\n');
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
    .configureOutput({ writeErr: (s) => printErr(s) });

  program.hook('preAction', async () => {
    const g = program.opts<GlobalOpts>();
    debug = Boolean(g.debug);
    mode = g.json ? 'json' : g.quiet ? 'quiet' : mode;
    await sweepDeadTemps(tmpdir()); // what killed runs (any verb) left in $TMPDIR; never a live run's
  });

  const cli: Cli = {
    get mode() {
      return mode;
    },
    get globals() {
      return program.opts<GlobalOpts>();
    },
    signal: controller.signal,
    emit: (human, data) => {
      if (mode === 'json') printJson({ type: 'result', ...(data as object) });
      else if (mode !== 'quiet') printOut(`${human}\n`);
    },
    // Commands load their modules when they run: verify on the box never pays for apt, pip, HF or the SBOM
    // library, and start-up stays short (esbuild keeps dynamic imports lazy in the packed script too).
    ctxFor: async (report) => {
      const { makeBuildCtx } = await import('../context.js');
      const cacheDir = cli.globals.cacheDir;
      return (m) =>
        makeBuildCtx({
          cacheDir: cacheDir ? resolve(cacheDir) : undefined,
          report,
          signal: controller.signal,
          manifestPath: shown(m.path),
          baseDir: m.dir,
          target: m.manifest.target,
        });
    },
    exit: (code) => {
      exitCode = code;
    },
  };
  for (const register of verbs) register(program, cli);

  // --json is known before commander parses: a usage error then still ends in a JSON error record.
  if (argv.includes('--json')) mode = 'json';
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
