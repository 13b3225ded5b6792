import { CommanderError } from 'commander';
import { InterruptedError, VaultError, isAbort } from '../util/errors.js';
import { printErr, printJson } from './out.js';
import type { OutputMode } from './render.js';

/** The exit code of a failure, and its lines: usage 64, our typed errors their own code, anything else 70. */
export function reportError(err: unknown, mode: OutputMode, debug: boolean, interrupted: boolean): number {
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
