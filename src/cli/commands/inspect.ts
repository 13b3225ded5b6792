import type { Command } from 'commander';
import type { InspectResult } from '../../bundle/inspect.js';
import { type Cli, examples } from '../common.js';
import { formatBytes } from '../../util/format.js';

export function register(program: Command, cli: Cli): void {
  program
    .command('inspect')
    .description('show what a bundle holds: artifacts by kind with versions and sizes, totals, metadata')
    .argument('<bundle>', 'bundle folder or tar file')
    .addHelpText(
      'after',
      examples('vault-bundle inspect bundles/quickstart', 'vault-bundle inspect my-box.tar', 'vault-bundle --json inspect /media/stick/my-box'),
    )
    .action(async (bundle: string) => {
      const { inspectBundle } = await import('../../bundle/inspect.js');
      const r = await inspectBundle(bundle);
      cli.emit(await inspectText(r), r);
    });
}

async function inspectText(r: InspectResult): Promise<string> {
  const lines = [
    `${r.name} ${r.version}${r.description ? ` — ${r.description}` : ''}`,
    `created ${r.created} by ${r.tool.name} ${r.tool.version}; target ${r.target.os} ${r.target.arch}${r.target.python ? ` python ${r.target.python}` : ''}`,
    `${r.totals.artifacts} artifacts, ${formatBytes(r.totals.bytes)}`,
  ];
  const probe = r.target.probe;
  if (probe) lines.push(`built for the box ${probe.hostname} (probe of ${probe.created}, ${probe.digest.slice(0, 19)}…): only what it lacked`);
  if (r.parts) lines.push(`split for FAT32: ${r.parts.count} part(s), ${formatBytes(r.parts.bytes)}`);
  if (r.base) lines.push(`a delta over ${r.base.name} ${r.base.version}: ${r.base.blobs} blob(s) come from that base bundle`);
  const { isExpired } = await import('../../bundle/trust.js');
  lines.push(
    `${r.signed ? 'signed (SHA256SUMS.asc; check it with verify --key)' : 'unsigned'}${r.expires ? `; expires ${r.expires}${isExpired(r.expires, new Date()) ? ' (EXPIRED)' : ''}` : ''}`,
  );
  const { installText } = await import('../../sbom/install.js');
  for (const x of r.specialModes) lines.push(`ATTENTION: ${x.name} installs to ${installText(x.install)}`);
  for (const [kind, k] of Object.entries(r.byKind)) {
    lines.push('', `${kind}: ${k.count} (${formatBytes(k.bytes)})`);
    const w = Math.max(...k.artifacts.map((a) => a.name.length));
    const v = Math.max(...k.artifacts.map((a) => a.version.length));
    for (const a of k.artifacts) {
      lines.push(`  ${a.name.padEnd(w)}  ${a.version.padEnd(v)}  ${formatBytes(a.size).padStart(10)}${a.install ? `  → ${installText(a.install)}` : ''}`);
    }
  }
  return lines.join('\n');
}
