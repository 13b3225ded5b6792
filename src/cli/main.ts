#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { InterruptedError, VaultError, isAbort } from '../util/errors.js';
import { removeTempsSync, sweepDeadTemps } from '../util/fs.js';
import { limits } from '../util/limits.js';
import { TOOL } from '../version.js';
import { type Cli, type GlobalOpts, positiveInt, shown } from './common.js';
import { verbs } from './commands/index.js';
import type { OutputMode } from './render.js';
import { printErr, printJson, printOut } from './out.js';

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

/** The exit code of a failure, and its lines: usage 64, our typed errors their own code, anything else 70. */
function reportError(err: unknown, mode: OutputMode, debug: boolean, interrupted: boolean): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    // Help shown because nothing was asked (no command, a command group alone) is a usage error: exit 64.
    if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 64;
    // commander printed its words on stderr; a --json reader gets the same as a record.
    if (mode === 'json') printJson({ type: 'error', code: 'USAGE', message: err.message.replace(/^error: /, ''), hint: 'add --help for the options' });
    return 64;
  }
  // Ctrl-C reaches code in the middle of a request, a stream or a timer, which throw their own AbortError
  // (wrapped or not): that is the interruption, never a bug. After Ctrl-C any other failure that is not one
  // of ours is the abort tearing something down half-way, also no bug to report; --debug still shows it.
  if (!(err instanceof InterruptedError) && (isAbort(err) || (interrupted && !(err instanceof VaultError)))) {
    if (debug) printErr(`cause: ${err instanceof Error ? err.stack : String(err)}\n`);
    err = new InterruptedError();
  }
  if (err instanceof VaultError) {
    if (mode === 'json') {
      printJson({ type: 'error', code: err.code as string, message: err.message, hint: err.hint, subject: err.subject });
    }
    printErr(`error: ${err.message}\n`);
    if (err.hint) printErr(`hint: ${err.hint}\n`);
    if (debug && err.cause) {
      const cause: unknown = (err.cause as Error)?.stack ?? err.cause;
      printErr(`cause: ${String(cause)}\n`);
    }
    return err.exitCode;
  }
  printErr(`internal error (please report): ${err instanceof Error ? err.message : String(err)}\n`);
  if (debug && err instanceof Error) printErr(`${err.stack}\n`);
  else printErr('run again with --debug for details\n');
  return 70;
}
