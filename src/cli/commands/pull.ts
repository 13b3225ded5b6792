import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatBytes } from '../../util/format.js';
import { makeRenderer } from '../render.js';
import { type Cli, examples } from '../common.js';
import { type RegistryFlags, clientOptions, registryOptions } from './oci-common.js';

export function register(program: Command, cli: Cli): void {
  registryOptions(
    program
      .command('pull')
      .description('pull a bundle from an OCI registry (or read an OCI image layout) into a folder: every digest checked, resumable')
      .argument('<reference>', 'oci://registry[:port]/repository:tag|@sha256:…, or oci:DIR[:tag] for an OCI image layout')
      .argument('<dir>', 'bundle folder to write (new, empty, or a pull that stopped there)'),
  )
    .addHelpText(
      'after',
      examples(
        'vault-bundle pull registry.site.lan/vault/my-box:1.1.0 my-box',
        'vault-bundle pull oci:/media/stick/layout:1.1.0 my-box',
        'vault-bundle pull 127.0.0.1:5000/vault/my-box:1.1.0 my-box --plain-http',
      ),
    )
    .action(async (reference: string, dir: string, o: RegistryFlags) => {
      const r = makeRenderer(cli.mode);
      const { openSource } = await import('../../oci/source.js');
      const { pullBundle } = await import('../../oci/pull.js');
      const ref = /^(oci:|[a-z]+:\/\/)/.test(reference) ? reference : `oci://${reference}`;
      const { source, close } = openSource(ref, clientOptions(o, cli.signal));
      try {
        const t0 = performance.now();
        const res = await pullBundle(source, resolve(dir), { concurrency: cli.globals.concurrency, report: r.report });
        r.finish();
        const secs = (performance.now() - t0) / 1000;
        cli.emit(
          `pulled ${source.describe} (${res.digest}) into ${dir} in ${secs.toFixed(1)} s: ${res.files} files, ${formatBytes(res.bytes)}; ${formatBytes(res.fetchedBytes)} fetched${res.resumed ? `, ${res.resumed} resumed` : ''}\nnext: vault-bundle verify ${dir}`,
          { ...res, seconds: secs },
        );
      } finally {
        r.finish();
        await close();
      }
    });
}
