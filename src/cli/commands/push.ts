import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { formatBytes } from '../../util/format.js';
import { makeRenderer } from '../render.js';
import { type Cli, examples } from '../common.js';
import { type RegistryFlags, clientOptions, registryOptions } from './oci-common.js';

export function register(program: Command, cli: Cli): void {
  registryOptions(
    program
      .command('push')
      .description(
        'push a bundle folder to an OCI registry as an OCI 1.1 artifact (blobs the registry has are not sent again; the SBOM attached as a referrer)',
      )
      .argument('<bundle>', 'bundle folder')
      .argument('<reference>', 'oci://registry[:port]/repository:tag (the oci:// may be left out)')
      .option('--mount-from <repository>', 'another repository of the same registry to mount blobs from instead of uploading them'),
  )
    .addHelpText(
      'after',
      examples(
        'vault-bundle push bundles/my-box registry.site.lan/vault/my-box:1.1.0',
        'vault-bundle push bundles/my-box-1.1.0 127.0.0.1:5000/vault/my-box:1.1.0 --plain-http',
        'vault-bundle push bundles/my-box registry.site.lan/vault/my-box:1.1.0 --ca-file site-ca.pem',
      ),
    )
    .action(async (bundle: string, reference: string, o: RegistryFlags & { mountFrom?: string }) => {
      const r = makeRenderer(cli.mode);
      const { RegistryClient } = await import('../../oci/client.js');
      const { parseRef, refString } = await import('../../oci/ref.js');
      const { pushBundle } = await import('../../oci/push.js');
      const c = new RegistryClient(parseRef(reference), clientOptions(o, cli.signal));
      try {
        const t0 = performance.now();
        const { defaultCacheDir } = await import('../../context.js');
        const uploadStateDir = join(cli.globals.cacheDir ? resolve(cli.globals.cacheDir) : defaultCacheDir(), 'oci-uploads');
        const res = await pushBundle(c, bundle, {
          concurrency: cli.globals.concurrency,
          report: r.report,
          uploadStateDir,
          ...(o.mountFrom ? { mountFrom: o.mountFrom } : {}),
        });
        r.finish();
        const secs = (performance.now() - t0) / 1000;
        const where = `${c.ref.registry}/${c.ref.repository}@${res.digest}`;
        cli.emit(
          `pushed ${refString(c.ref)} (${where}) in ${secs.toFixed(1)} s: ${res.blobs} blobs, ${res.uploaded} uploaded (${formatBytes(res.uploadedBytes)}), ${res.present} already there` +
            `${res.mounted ? `, ${res.mounted} mounted` : ''}${res.resumedBytes ? `, ${formatBytes(res.resumedBytes)} of unfinished uploads resumed` : ''}${res.sbom ? `; SBOM referrer ${res.sbom} (${res.referrers === 'api' ? 'referrers API' : 'tag fallback'})` : ''}` +
            `${res.fallback ? '; pushed as an image manifest with config media type (the registry refused artifactType)' : ''}`,
          { reference: refString(c.ref), ...res, seconds: secs },
        );
      } finally {
        r.finish();
        await c.close();
      }
    });
}
