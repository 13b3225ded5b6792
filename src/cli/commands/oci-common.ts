import type { Command } from 'commander';

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
