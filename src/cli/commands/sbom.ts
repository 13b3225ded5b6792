import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { writeFileAtomic } from '../../util/fs.js';
import { type Cli, examples } from '../common.js';
import { printJsonText, printOut } from '../out.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('sbom')
    .description('print the bill of materials of a bundle: CycloneDX as shipped, SPDX 2.3 JSON, or a license summary')
    .argument('<bundle>', 'bundle folder, tar file or split (fat32) folder')
    .addOption(
      new Option('--format <format>', 'cyclonedx: sbom.cdx.json as shipped; spdx: SPDX 2.3 JSON; licenses: counts by license, unknowns listed')
        .choices(['cyclonedx', 'spdx', 'licenses'])
        .default('cyclonedx'),
    )
    .option('-o, --out <file>', 'write it to this file instead of stdout')
    .addHelpText(
      'after',
      examples(
        'vault-bundle sbom bundles/my-box > sbom.cdx.json',
        'vault-bundle sbom my-box.tar --format spdx -o my-box.spdx.json',
        'vault-bundle sbom bundles/my-box --format licenses',
      ),
    )
    .action(async (bundle: string, o: { format: 'cyclonedx' | 'spdx' | 'licenses'; out?: string }) => {
      const { sbomView } = await import('../../report/sbom.js');
      const r = await sbomView({ bundle, format: o.format });
      const text = r.text.endsWith('\n') ? r.text : `${r.text}\n`;
      const head = { bundle: r.bundle, name: r.name, version: r.version, format: r.format };
      if (o.out) {
        await writeFileAtomic(o.out, text);
        cli.emit(`wrote ${o.format} of ${r.name} ${r.version} to ${o.out}`, { ...head, out: resolve(o.out), ...(r.licenses ? { licenses: r.licenses } : {}) });
      } else if (cli.mode === 'json') {
        cli.emit('', { ...head, ...(r.licenses ? { licenses: r.licenses } : { document: JSON.parse(r.text) as unknown }) });
      } else {
        // CycloneDX and SPDX are JSON: escaped as JSON (the document parses to the same value); the licence list is text.
        if (o.format === 'licenses') printOut(text);
        else printJsonText(text);
      }
    });
}
