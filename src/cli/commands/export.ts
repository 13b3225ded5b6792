import { type Command, Option } from 'commander';
import { type Cli, examples, safeText } from '../common.js';
import { formatBytes } from '../../util/format.js';

export function register(program: Command, d: Cli): void {
  program
    .command('export')
    .description('write a bundle as a plain site for the users\' own tools (apt, pip, huggingface_hub) and nginx, hard-linked from the verified bundle')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .requiredOption('--site <dir>', 'the new folder to write: apt/, simple/, wheels/, hf/, files/, the bundle\'s SHA256SUMS and bundle.json, site.conf and nginx.conf')
    .option('--key <file>', 'release public key: the bundle\'s signature must verify against it first')
    .addOption(new Option('--listen <addr>', 'what site.conf\'s server block listens on (nginx "listen")').default('80'))
    .addHelpText('after', examples('vault-bundle export bundles/my-box --site /srv/site', 'vault-bundle export /media/stick/my-box --site /srv/site --key release.asc --listen 10.0.0.5:80'))
    .action(async (bundle: string, o: { site: string; key?: string; listen: string }) => {
      const { verifiedBundle, clientLines } = await import('../../site/build.js');
      const { exportSite } = await import('../../site/export.js');
      const b = await verifiedBundle(bundle, { ...(o.key ? { key: o.key } : {}), signal: d.signal });
      const r = await exportSite(b, o.site, { listen: o.listen, signal: d.signal });
      const lines = clientLines(r.plan, 'http://HOST');
      d.emit(
        [
          `exported ${safeText(r.plan.name)} ${safeText(r.plan.version)} to ${r.dir}: ${r.files} files (${r.linked} hard-linked, ${r.copied} copied, ${formatBytes(r.bytesCopied)})`,
          `nginx: include ${r.dir}/site.conf in http {}, or run: nginx -p ${r.dir} -c nginx.conf`,
          'clients (HOST: this server\'s name):',
          ...lines.map((l) => `  ${safeText(l)}`),
        ].join('\n'),
        { dir: r.dir, files: r.files, linked: r.linked, copied: r.copied, bytesCopied: r.bytesCopied, clients: lines },
      );
    });
}
