import type { Command } from 'commander';
import { escapeText } from '../../util/escape.js';
import { type Cli, examples } from '../common.js';

/**
 * `vault-bundle fleet <results>`: the fleet page, JSON summary and JUnit file from the folders the Ansible
 * role fetched (results/<inventory_hostname>/). Exit 0 when every box passed, 1 when one failed or did not report.
 */
export function register(program: Command, io: Cli): void {
  program
    .command('fleet')
    .description(
      "one page for a fleet: every box's rollout and smoke results (results/<host>/, as the Ansible role fetches them) with fleet medians and outliers; writes fleet.html, fleet.json, fleet-junit.xml",
    )
    .argument('<results>', 'the results folder: a subfolder per box')
    .option('-o, --out <dir>', 'where to write fleet.html, fleet.json and fleet-junit.xml (default: the results folder)')
    .option(
      '--expect <file>',
      'the inventory (INI) or a list of host names: boxes without results are listed as not reporting (results/expected-hosts.txt is read too)',
    )
    .addHelpText(
      'after',
      examples(
        'vault-bundle fleet results/',
        'vault-bundle fleet results/ --expect ansible/inventory.ini --out /srv/www/fleet',
        'vault-bundle --json fleet results/',
      ),
    )
    .action(async (results: string, o: { out?: string; expect?: string }) => {
      const { fleetCommand, fleetText } = await import('../../fleet/fleet.js');
      const r = await fleetCommand({ results, ...(o.out ? { out: o.out } : {}), ...(o.expect ? { expect: o.expect } : {}) });
      // Host names and reasons come from the boxes: no terminal control character reaches the screen.
      const text = [...fleetText(r.summary), `wrote ${r.files.html}, ${r.files.json}, ${r.files.junit}`].map((l) => escapeText(l)).join('\n');
      io.emit(text, { summary: r.summary, files: r.files });
      io.exit(r.exitCode);
    });
}
