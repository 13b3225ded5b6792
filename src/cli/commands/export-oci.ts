import type { Command } from 'commander';
import type { CommandDeps } from './oci-common.js';

/** `export <bundle> --oci-layout DIR`: the OCI form of export (the coordinator merges it with export --site). */
export function registerExportOci(program: Command, d: CommandDeps): void {
  program
    .command('export')
    .description('write a bundle in another form: --oci-layout DIR writes an OCI image layout that skopeo, oras or crane copy to any registry')
    .argument('<bundle>', 'bundle folder')
    .requiredOption('--oci-layout <dir>', 'OCI image layout folder to write (made if missing; other images in it are kept)')
    .option('--tag <tag>', 'the name of the bundle in the layout (org.opencontainers.image.ref.name)', 'latest')
    .action(async (bundle: string, o: { ociLayout: string; tag: string }) => {
      const { exportLayout } = await import('../../oci/layout.js');
      const res = await exportLayout(bundle, o.ociLayout, o.tag);
      d.emit(`wrote OCI image layout ${o.ociLayout} (${o.tag} → ${res.digest}, ${res.blobs} blobs)\ncopy it with: skopeo copy oci:${o.ociLayout}:${o.tag} docker://REGISTRY/REPO:${o.tag}`, { layout: o.ociLayout, tag: o.tag, ...res });
    });
}
