import { execFile as execFileCb } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readSystemSources, type RepoSource } from '../../src/sources/apt/sourcelist.js';

const execFile = promisify(execFileCb);

export interface AptIso {
  /** APT_CONFIG file for this isolated apt. */
  config: string;
  root: string;
  sources: RepoSource[];
}

/**
 * An isolated apt (own lists, own dpkg status) over this machine's configured Debian mirror, with the given
 * components. Returns undefined when the machine has no deb sources or the mirror cannot be reached.
 */
export async function aptIso(name: string, components: string[], status = ''): Promise<AptIso | undefined> {
  const sources = (await readSystemSources()).map((s) => ({ ...s, components }));
  if (sources.length === 0) return undefined;
  const root = join(tmpdir(), `vault-bundle-aptiso-${name}`);
  for (const d of ['etc/apt/sources.list.d', 'etc/apt/preferences.d', 'etc/apt/apt.conf.d', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'var/lib/dpkg/status'), status);
  const stanzas = sources.map((s) =>
    [`Types: deb`, `URIs: ${s.uri}`, `Suites: ${s.suites.join(' ')}`, `Components: ${s.components.join(' ')}`, ...(s.signedBy.length ? [`Signed-By: ${s.signedBy.join(' ')}`] : [])].join('\n'),
  );
  await writeFile(join(root, 'etc/apt/sources.list.d/test.sources'), `${stanzas.join('\n\n')}\n`);
  const config = join(root, 'apt.conf');
  await writeFile(
    config,
    [
      `Dir "${root}/";`,
      `Dir::State::status "${root}/var/lib/dpkg/status";`,
      `Dir::Etc::Parts "${root}/etc/apt/apt.conf.d";`,
      `Dir::Etc::PreferencesParts "${root}/etc/apt/preferences.d";`,
      'APT::Architecture "amd64";',
      'APT::Architectures { "amd64"; };',
      'Acquire::Languages "none";',
      '',
    ].join('\n'),
  );
  try {
    await execFile('apt-get', ['update', '-qq'], { env: { ...process.env, APT_CONFIG: config }, timeout: 120_000 });
  } catch {
    return undefined;
  }
  return { config, root, sources };
}

/** `apt-get install -s` in that isolated apt: the name=version set apt would install. */
export async function aptPlan(iso: AptIso, packages: string[]): Promise<string[]> {
  const { stdout } = await execFile('apt-get', ['install', '-s', '-y', ...packages], {
    env: { ...process.env, APT_CONFIG: iso.config },
    maxBuffer: 1 << 26,
  });
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
}
