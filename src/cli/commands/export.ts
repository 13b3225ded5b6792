import { type Command, Option } from 'commander';
import { UsageError } from '../../util/errors.js';
import { escapeName } from '../../util/escape.js';
import { type Cli, examples } from '../common.js';
import { formatBytes } from '../../util/format.js';

export function register(program: Command, d: Cli): void {
  program
    .command('export')
    .description(
      'write a bundle in another form: a plain site for apt, pip, huggingface_hub and nginx (hard-linked from the verified bundle), or an OCI image layout for skopeo, oras or crane',
    )
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .option('--site <dir>', "the new folder to write: apt/, simple/, wheels/, hf/, files/, the bundle's SHA256SUMS and bundle.json, site.conf and nginx.conf")
    .option(
      '--oci-layout <dir>',
      'or: an OCI image layout folder that skopeo, oras or crane copy to any registry (made if missing; other images in it are kept)',
    )
    .option('--tag <tag>', 'with --oci-layout: the name of the bundle in the layout (org.opencontainers.image.ref.name)', 'latest')
    .option('--key <file>', "release public key: the bundle's signature must verify against it first")
    .addOption(new Option('--listen <addr>', 'what site.conf\'s server block listens on (nginx "listen")').default('80'))
    .addHelpText(
      'after',
      examples(
        'vault-bundle export bundles/my-box --site /srv/site',
        'vault-bundle export /media/stick/my-box --site /srv/site --key release.asc --listen 10.0.0.5:80',
        'vault-bundle export bundles/my-box --oci-layout /media/stick/layout --tag 1.1.0',
      ),
    )
    .action(async (bundle: string, o: { site?: string; ociLayout?: string; tag: string; key?: string; listen: string }) => {
      if (Boolean(o.site) === Boolean(o.ociLayout)) {
        throw new UsageError({
          code: 'BAD_FLAG',
          message: 'export writes one form: give --site DIR or --oci-layout DIR',
          hint: 'vault-bundle export <bundle> --site /srv/site, or --oci-layout /media/stick/layout',
        });
      }
      if (o.ociLayout) {
        const { exportLayout } = await import('../../oci/layout.js');
        const res = await exportLayout(bundle, o.ociLayout, o.tag);
        d.emit(
          `wrote OCI image layout ${o.ociLayout} (${o.tag} → ${res.digest}, ${res.blobs} blobs)\ncopy it with: skopeo copy oci:${o.ociLayout}:${o.tag} docker://REGISTRY/REPO:${o.tag}`,
          { layout: o.ociLayout, tag: o.tag, ...res },
        );
        return;
      }
      const site = o.site!;
      const { verifiedBundle, clientLines } = await import('../../site/build.js');
      const { exportSite } = await import('../../site/export.js');
      const b = await verifiedBundle(bundle, { ...(o.key ? { key: o.key } : {}), signal: d.signal });
      const r = await exportSite(b, site, { listen: o.listen, signal: d.signal });
      const lines = clientLines(r.plan, 'http://HOST');
      d.emit(
        [
          `exported ${escapeName(r.plan.name)} ${escapeName(r.plan.version)} to ${r.dir}: ${r.files} files (${r.linked} hard-linked, ${r.copied} copied, ${formatBytes(r.bytesCopied)})`,
          `nginx: include ${r.dir}/site.conf in http {}, or run: nginx -p ${r.dir} -c nginx.conf`,
          "clients (HOST: this server's name):",
          ...lines.map((l) => `  ${escapeName(l)}`),
        ].join('\n'),
        { dir: r.dir, files: r.files, linked: r.linked, copied: r.copied, bytesCopied: r.bytesCopied, clients: lines },
      );
    });
}
