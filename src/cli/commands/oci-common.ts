import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Cli } from '../common.js';
import type { OutputMode } from '../render.js';

/** What the OCI commands need from the composition root. */
export interface CommandDeps {
  mode(): OutputMode;
  emit(human: string, data: unknown): void;
  signal: AbortSignal;
  concurrency(): number;
  cacheDir(): string | undefined;
}

/** The OCI verbs' view of the composition root's context. */
export function depsOf(cli: Cli): CommandDeps {
  return {
    mode: () => cli.mode,
    emit: (human, data) => cli.emit(human, data),
    signal: cli.signal,
    concurrency: () => cli.globals.concurrency,
    cacheDir: () => (cli.globals.cacheDir ? resolve(cli.globals.cacheDir) : undefined),
  };
}

export interface RegistryFlags {
  plainHttp?: boolean;
  caFile?: string;
}

/** --plain-http and --ca-file, on every command that talks to a registry. */
export function registryOptions(cmd: Command): Command {
  return cmd
    .option('--plain-http', 'talk plain HTTP to a registry that is not on loopback (loopback always is)')
    .option('--ca-file <file>', "trust this CA (PEM) for the registry's TLS certificate (a loopback registry is then spoken to over TLS too)");
}

export function clientOptions(o: RegistryFlags, signal: AbortSignal) {
  return { ...(o.plainHttp ? { plainHttp: true } : {}), ...(o.caFile ? { caFile: o.caFile } : {}), signal };
}
