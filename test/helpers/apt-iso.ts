import { execFile as execFileCb } from 'node:child_process';
import { access, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readSystemSources, type RepoSource } from '../../src/sources/apt/sourcelist.js';
import type { InstalledRecord, PackageRecord } from '../../src/sources/apt/types.js';

const execFile = promisify(execFileCb);

/** An isolated apt: own configuration, own dpkg status, package lists of this machine's Debian mirror. */
export interface AptIso {
  /** The APT_CONFIG file. */
  config: string;
  /** Where its Packages files are (Dir::State::Lists). */
  listsDir: string;
  root: string;
  sources: RepoSource[];
}

/** The components of the default isolated apt. */
export const ISO_COMPONENTS = ['main', 'contrib', 'non-free', 'non-free-firmware'];
const DEFAULT_ROOT = '/tmp/aptiso';

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Whether apt-get (and dpkg) can be run here. */
export async function hasApt(): Promise<boolean> {
  try {
    await execFile('apt-get', ['--version']);
    await execFile('dpkg', ['--version']);
    return true;
  } catch {
    return false;
  }
}

function aptConf(root: string, o: { lists?: string; architectures?: string[] } = {}): string {
  const archs = o.architectures ?? ['amd64'];
  return [
    `Dir "${root}/";`,
    ...(o.lists ? [`Dir::State::Lists "${o.lists}/";`] : []),
    `Dir::State::status "${root}/var/lib/dpkg/status";`,
    `Dir::Etc::Parts "${root}/etc/apt/apt.conf.d";`,
    `Dir::Etc::PreferencesParts "${root}/etc/apt/preferences.d";`,
    `APT::Architecture "${archs[0]}";`,
    `APT::Architectures { ${archs.map((a) => `"${a}";`).join(' ')} };`,
    'Acquire::Languages "none";',
    '',
  ].join('\n');
}

async function skeleton(root: string, status: string): Promise<void> {
  for (const d of [
    'etc/apt/sources.list.d',
    'etc/apt/preferences.d',
    'etc/apt/apt.conf.d',
    'var/lib/apt/lists/partial',
    'var/cache/apt/archives/partial',
    'var/lib/dpkg',
  ]) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'var/lib/dpkg/status'), status);
}

async function hasLists(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => n.endsWith('_Packages'));
  } catch {
    return false;
  }
}

/**
 * The default isolated apt at /tmp/aptiso (empty dpkg status, this machine's deb sources with the components
 * main contrib non-free non-free-firmware). Made, and its lists fetched with `apt-get update`, only when it
 * is not there yet. Undefined when no mirror is configured or it cannot be reached.
 */
export async function aptIso(): Promise<AptIso | undefined>;
/**
 * An isolated apt under the temp dir named `name`, over this machine's sources with the given components and
 * dpkg status (text); lists are fetched anew.
 */
export async function aptIso(name: string, components: string[], status?: string): Promise<AptIso | undefined>;
export async function aptIso(name?: string, components = ISO_COMPONENTS, status = ''): Promise<AptIso | undefined> {
  const sources = (await readSystemSources().catch(() => [])).map((s) => ({ ...s, components }));
  const root = name === undefined ? DEFAULT_ROOT : join(tmpdir(), `vault-bundle-aptiso-${name}`);
  const config = join(root, 'apt.conf');
  const listsDir = join(root, 'var/lib/apt/lists');
  if (name === undefined && (await exists(config)) && (await hasLists(listsDir))) return { config, listsDir, root, sources };
  if (sources.length === 0 || !(await hasApt())) return undefined;
  await skeleton(root, status);
  const stanzas = sources.map((s) =>
    [
      `Types: deb`,
      `URIs: ${s.uri}`,
      `Suites: ${s.suites.join(' ')}`,
      `Components: ${s.components.join(' ')}`,
      ...(s.signedBy.length ? [`Signed-By: ${s.signedBy.join(' ')}`] : []),
    ].join('\n'),
  );
  await writeFile(join(root, 'etc/apt/sources.list.d/debian.sources'), `${stanzas.join('\n\n')}\n`);
  await writeFile(config, aptConf(root));
  try {
    await execFile('apt-get', ['update', '-qq'], { env: { ...process.env, APT_CONFIG: config }, timeout: 300_000 });
  } catch {
    return undefined;
  }
  return (await hasLists(listsDir)) ? { config, listsDir, root, sources } : undefined;
}

/** A second isolated apt over the same lists (nothing fetched) whose dpkg status is `status` (text). */
export async function aptIsoWithStatus(base: AptIso, name: string, status: string): Promise<AptIso> {
  const root = join(tmpdir(), `vault-bundle-aptiso-status-${name}`);
  await skeleton(root, status);
  const from = join(base.root, 'etc/apt/sources.list.d');
  for (const f of await readdir(from)) await copyFile(join(from, f), join(root, 'etc/apt/sources.list.d', f));
  const config = join(root, 'apt.conf');
  await writeFile(config, aptConf(root, { lists: base.listsDir }));
  return { config, listsDir: base.listsDir, root, sources: base.sources };
}

/** The Packages files apt reads, in the order it reads them (`apt-get indextargets`). */
export async function aptPackagesFiles(iso: AptIso): Promise<{ file: string; suite: string; component: string }[]> {
  const { stdout } = await execFile('apt-get', ['indextargets', '--format', '$(FILENAME)\t$(CODENAME)\t$(COMPONENT)', 'Created-By: Packages'], {
    env: { ...process.env, APT_CONFIG: iso.config },
    maxBuffer: 1 << 24,
  });
  const out: { file: string; suite: string; component: string }[] = [];
  for (const line of stdout.split('\n')) {
    const [file, suite = '', component = ''] = line.split('\t');
    if (file && (await exists(file))) out.push({ file, suite, component });
  }
  return out;
}

/** `apt-get install -s` in that isolated apt: the name=version set apt would install. */
export async function aptPlan(iso: Pick<AptIso, 'config'>, packages: string[], o: { recommends?: boolean } = {}): Promise<string[]> {
  const { stdout } = await execFile(
    'apt-get',
    ['install', '-s', '-y', ...(o.recommends === false ? ['-o', 'APT::Install-Recommends=false'] : []), ...packages],
    {
      env: { ...process.env, APT_CONFIG: iso.config },
      maxBuffer: 1 << 26,
    },
  );
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
}

type MiniPackage = Pick<PackageRecord, 'package' | 'version' | 'architecture'> &
  Partial<Omit<PackageRecord, 'origin'>> & { important?: boolean; suggests?: string; replaces?: string };
type MiniInstalled = InstalledRecord & { hold?: boolean; conflicts?: string; breaks?: string; recommends?: string; essential?: boolean };

function stanza(fields: [string, string | number | boolean | undefined][]): string {
  return fields
    .filter((f): f is [string, string | number | boolean] => f[1] !== undefined && f[1] !== false && f[1] !== '')
    .map(([k, v]) => `${k}: ${v === true ? 'yes' : v}`)
    .join('\n');
}

/**
 * Real apt over a hand-made universe: a flat local repository (trusted) with those packages and a dpkg
 * status with those installed ones. Returns what `apt-get install -s` installs (name=version, sorted), or
 * `{ error }` when apt refuses.
 */
export async function miniAptPlan(
  universe: MiniPackage[],
  installed: MiniInstalled[],
  request: string[],
  o: { recommends?: boolean; architectures?: string[] } = {},
): Promise<string[] | { error: string }> {
  const root = join(tmpdir(), `vault-bundle-miniapt-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const repo = join(root, 'repo');
  await mkdir(repo, { recursive: true });
  const status = installed
    .map((i) =>
      stanza([
        ['Package', i.package],
        ['Status', `${i.hold ? 'hold' : 'install'} ok installed`],
        ['Version', i.version],
        ['Architecture', i.architecture],
        ['Multi-Arch', i.multiArch],
        ['Essential', i.essential],
        ['Pre-Depends', i.preDepends],
        ['Depends', i.depends],
        ['Recommends', i.recommends],
        ['Conflicts', i.conflicts],
        ['Breaks', i.breaks],
        ['Provides', i.provides],
        ['Maintainer', 'x <x@example.org>'],
        ['Description', 'x'],
      ]),
    )
    .join('\n\n');
  await skeleton(root, status ? `${status}\n` : '');
  const packages = universe
    .map((p) =>
      stanza([
        ['Package', p.package],
        ['Version', p.version],
        ['Architecture', p.architecture],
        ['Multi-Arch', p.multiArch],
        ['Essential', p.essential],
        ['Important', p.important],
        ['Priority', p.priority],
        ['Source', p.source],
        ['Pre-Depends', p.preDepends],
        ['Depends', p.depends],
        ['Recommends', p.recommends],
        ['Suggests', p.suggests],
        ['Conflicts', p.conflicts],
        ['Breaks', p.breaks],
        ['Replaces', p.replaces],
        ['Provides', p.provides],
        ['Filename', p.filename ?? `./${p.package}_${p.version.replace(/:/g, '%3a')}_${p.architecture}.deb`],
        ['Size', p.size ?? 1],
        ['SHA256', p.sha256 ?? '0'.repeat(64)],
        ['Description', 'x'],
      ]),
    )
    .join('\n\n');
  await writeFile(join(repo, 'Packages'), `${packages}\n`);
  await writeFile(join(root, 'etc/apt/sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  const config = join(root, 'apt.conf');
  await writeFile(config, aptConf(root, o.architectures ? { architectures: o.architectures } : {}));
  const env = { ...process.env, APT_CONFIG: config };
  try {
    await execFile('apt-get', ['update', '-qq'], { env });
    return await aptPlan({ config }, request, o);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { error: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * The Debian mirror this machine's apt configuration names (never a host written in the repo), if it serves
 * `suite` now; else why not, for the test to skip with.
 */
export async function debianMirror(suite = 'bookworm'): Promise<{ uri: string } | { skip: string }> {
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  if (!(await exists(keyring))) return { skip: `no ${keyring} (debian-archive-keyring)` };
  const sources = await readSystemSources().catch(() => []);
  const debian = sources.find((s) => s.suites.includes('bookworm') && !/security/.test(s.uri));
  if (!debian) return { skip: 'no bookworm source in /etc/apt (the tests read the Debian mirror from there)' };
  try {
    const res = await fetch(`${debian.uri}/dists/${suite}/InRelease`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return { skip: `the mirror ${debian.uri} answers ${res.status} for ${suite}` };
  } catch (err) {
    return { skip: `the mirror ${debian.uri} cannot be reached (${(err as Error).message})` };
  }
  return { uri: debian.uri };
}
