import type { Command } from 'commander';
import { writeFileAtomic } from '../../util/fs.js';
import { type Cli, examples } from '../common.js';
import { printOut } from '../out.js';

export function register(program: Command, _cli: Cli): void {
  program
    .command('schema')
    .description('print (or write) the JSON Schema of manifests, for editor completion')
    .option('-o, --out <file>', 'write it to this file')
    .addHelpText('after', examples('vault-bundle schema --out manifests/manifest.schema.json', 'vault-bundle schema > manifest.schema.json'))
    .action(async (o: { out?: string }) => {
      const { manifestJsonSchema } = await import('../../manifest/schema.js');
      const text = `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
      if (o.out) await writeFileAtomic(o.out, text);
      else printOut(text);
    });
}
