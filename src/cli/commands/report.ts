import { resolve } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../util/fs.js';
import { type Cli, examples, nonEmptyPath } from '../common.js';
import { printOut } from '../out.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('report')
    .description('one self-contained HTML page about a bundle: metadata, signature, components with search, licenses, audit, changes since a base')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .option('-o, --out <file>', 'write the page to this file (default: stdout, as in "report <bundle> > report.html")')
    .option('--base <bundle>', 'an older bundle: add what changed since')
    .option('--audit <file>', 'audit findings to show (vault-bundle audit --json: a JSON array of {id, severity, package, version, summary})')
    .option('--key <file>', 'release public key to check SHA256SUMS.asc with', nonEmptyPath)
    .addHelpText(
      'after',
      examples(
        'vault-bundle report bundles/my-box > report.html',
        'vault-bundle report bundles/my-box-1.1.0 --base bundles/my-box-1.0.0 --key release.asc -o report.html',
        'vault-bundle report my-box.tar --audit findings.json -o report.html',
      ),
    )
    .action(async (bundle: string, o: { out?: string; base?: string; audit?: string; key?: string }) => {
      const { reportPage } = await import('../../report/page.js');
      const r = await reportPage({ bundle, ...(o.base ? { base: o.base } : {}), ...(o.audit ? { audit: o.audit } : {}), ...(o.key ? { key: o.key } : {}) });
      const { html, ...data } = r;
      if (o.out) {
        await writeFileAtomic(o.out, html);
        cli.emit(`wrote ${o.out}: ${r.name} ${r.version}, ${r.components} components; ${r.signature.text}`, { ...data, out: resolve(o.out) });
      } else if (cli.mode === 'json') {
        cli.emit('', { ...data, html });
      } else {
        printOut(html);
      }
    });
}
