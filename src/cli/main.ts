#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { sweepDeadTemps } from '../util/fs.js';
import { closeLauncher } from '../util/launcher.js';
import { limits } from '../util/limits.js';
import { TOOL } from '../version.js';
import { type Cli, type GlobalOpts, positiveInt, shown } from './common.js';
import { verbs } from './commands/index.js';
import type { OutputMode } from './render.js';
import { printErr, printJson, printOut } from './out.js';
import { reportError } from './errors.js';

/** What the run has learnt so far: the output mode (the global flags decide it), --debug, the exit code. */
type RunState = { mode: OutputMode; debug: boolean; exitCode: number };

/** Runs the CLI on argv; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  // Every request in flight listens on this one signal; --concurrency 16 is not a leak.
  setMaxListeners(0, controller.signal);
  const onSigint = interruptHandler(controller);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const state: RunState = { mode: process.stderr.isTTY ? 'tty' : 'plain', debug: false, exitCode: 0 };
  const program = newProgram();
  program.hook('preAction', async () => {
    const g = program.opts<GlobalOpts>();
    state.debug = Boolean(g.debug);
    state.mode = g.json ? 'json' : g.quiet ? 'quiet' : state.mode;
    await sweepDeadTemps(tmpdir()); // what killed runs (any verb) left in $TMPDIR; never a live run's
  });
  const cli = makeCli(program, controller, state);
  for (const register of verbs) register(program, cli);

  // --json is known before commander parses: a usage error then still ends in a JSON error record.
  if (argv.includes('--json')) state.mode = 'json';
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    state.exitCode = reportError(err, state.mode, state.debug, controller.signal.aborted);
  } finally {
    await closeLauncher();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  return state.exitCode;
}

/** The first Ctrl-C (or SIGTERM) aborts the run, which cleans up; a second quits at once. */
function interruptHandler(controller: AbortController): () => void {
  let interrupts = 0;
  return () => {
    interrupts++;
    if (interrupts > 1) {
      // Quit at once, but not leaving hundreds of MB of temp files: temp.ts removes them at exit, synchronously.
      process.exit(130);
    }
    printErr('\ninterrupting: cleaning up (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
}

/**
 * The program with its global flags; the verbs register themselves on it. Each command's --help also lists
 * --json, --cache-dir, --concurrency…: they are given before the command.
 */
function newProgram(): Command {
  return new Command('vault-bundle')
    .description('Build, verify and inspect offline bundles for air-gapped GPU boxes.')
    .version(TOOL.version)
    .option('--json', 'machine-readable output: JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--debug', 'show stack traces of internal errors')
    .option('--cache-dir <dir>', 'shared blob cache (default: $VAULT_BUNDLE_CACHE or $XDG_CACHE_HOME/vault-bundle)')
    .addOption(new Option('--concurrency <n>', 'parallel downloads').argParser(positiveInt).default(limits.concurrency))
    .addOption(
      new Option('--streams <n>', 'HTTP streams at once for big files fetched in byte ranges (default: 4 x --concurrency, at most 32; 1: none)').argParser(
        positiveInt,
      ),
    )
    .showHelpAfterError('(add --help for the options)')
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeErr: (s) => printErr(s) });
}

/** What every verb gets: the output mode, the global flags, the signal, how to print a result and make a build context. */
function makeCli(program: Command, controller: AbortController, state: RunState): Cli {
  return {
    get mode() {
      return state.mode;
    },
    get globals() {
      return program.opts<GlobalOpts>();
    },
    signal: controller.signal,
    emit: (human, data) => {
      if (state.mode === 'json') printJson({ type: 'result', ...(data as object) });
      else if (state.mode !== 'quiet') printOut(`${human}\n`);
    },
    // Commands load their modules when they run: verify on the box never pays for apt, pip, HF or the SBOM
    // library, and start-up stays short (esbuild keeps dynamic imports lazy in the packed script too).
    ctxFor: async (report) => {
      const { makeBuildCtx } = await import('../context.js');
      const cacheDir = program.opts<GlobalOpts>().cacheDir;
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
      state.exitCode = code;
    },
  };
}
