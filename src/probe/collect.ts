import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { hostname, machine, release, version } from 'node:os';
import { join } from 'node:path';
import type { Exec } from '../util/exec.js';
import { DEFAULT_IMAGE_VERSION, defaultImageVersion, readImageVersion } from '../state/image-version.js';
import { defaultStateDir, isInstalled, journalPath, readJournal } from '../state/journal.js';
import { ProbeError } from '../util/errors.js';
import { walk } from '../util/fs.js';
import { TOOL } from '../version.js';
import { encodeStatus, reduceStatus } from './dpkg.js';
import { cudaFact, gpuFact } from './gpu.js';
import { pythonFact, runPythonProbe, venvFact } from './python.js';
import { type BoxProbe, PROBE_SCHEMA, absentFact, probeSchema } from '../box/probe.js';
import { trustFact } from './trust.js';

/** Where pip installs wheels and HF models go on the box unless the manifest says otherwise. */
export const DEFAULT_VENV = '/opt/vault-ai/venv';
export const DEFAULT_HF_HOME = '/opt/vault-ai/models';

export interface CollectOptions {
  /** Every command runs through this (tests feed recorded outputs). */
  exec: Exec;
  venv?: string;
  /** HF_HOME of the models (default: $HF_HOME, else /opt/vault-ai/models). */
  hfHome?: string;
  /** Folders that may hold vault-bundle's journal.jsonl, first found wins. */
  stateDirs?: string[];
  /** Files read (tests point them at a recorded box). */
  files?: { osRelease?: string; dpkgStatus?: string; cudaVersion?: string; imageVersion?: string };
  now?: Date;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads what an air-gapped Ubuntu box has, with nothing but its own files and tools: /etc/os-release, uname,
 * the dpkg status, the python of the target venv (else python3), nvidia-smi, the CUDA toolkit's version.json,
 * the HF cache and vault-bundle's install journal. Whatever is missing is recorded with its reason.
 */
export async function collectProbe(o: CollectOptions): Promise<BoxProbe> {
  const env = o.env ?? process.env;
  const venv = o.venv ?? DEFAULT_VENV;
  const hfHome = o.hfHome ?? env.HF_HOME ?? DEFAULT_HF_HOME;
  const files = { osRelease: '/etc/os-release', dpkgStatus: '/var/lib/dpkg/status', cudaVersion: '/usr/local/cuda/version.json', ...o.files };
  const [os, debianArch, dpkg, py, gpus, cuda, hf, bundles, imageVersion, trust] = await Promise.all([
    osFact(files.osRelease),
    o.exec('dpkg', ['--print-architecture']).then((r) => (r.code === 0 ? r.stdout.trim() : '')),
    dpkgFact(files.dpkgStatus),
    pythonFacts(o.exec, venv),
    gpuFact(o.exec),
    cudaFact(files.cudaVersion),
    hfFact(hfHome),
    bundlesFact(o.stateDirs ?? defaultStateDirs()),
    imageVersionFact(
      files.imageVersion
        ? [files.imageVersion]
        : o.stateDirs
          ? [...o.stateDirs.map(defaultImageVersion), DEFAULT_IMAGE_VERSION]
          : [DEFAULT_IMAGE_VERSION, ...defaultStateDirs().map(defaultImageVersion)],
    ),
    trustFact(),
  ]);
  const probe: BoxProbe = {
    schema: PROBE_SCHEMA,
    tool: { ...TOOL },
    created: new Date(Math.floor((o.now ?? new Date()).getTime() / 1000) * 1000).toISOString(),
    hostname: hostname(),
    os,
    kernel: { release: release(), version: version() },
    arch: { node: process.arch, machine: machine(), debian: debianArch || debianArchOf(machine()) },
    dpkg,
    python: py.python,
    venv: py.venv,
    gpus,
    cuda,
    hf,
    bundles,
    imageVersion,
    trust,
  };
  // What we write is what `build --target` will read: a fact this box gives in a shape we did not expect is
  // named, not a crash.
  const r = probeSchema.safeParse(probe);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ProbeError({
      code: 'PROBE_FIELD',
      message: `this box gave an unexpected ${i.path.join('.')}: ${i.message}`,
      subject: i.path.join('.'),
      hint: 'report it with the output of "vault-bundle --debug probe"; meanwhile the manifest\'s target-status and target settings work without a probe',
    });
  }
  return r.data;
}

const DEBIAN_ARCH: Record<string, string> = {
  x86_64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  i686: 'i386',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export function debianArchOf(m: string): string {
  return DEBIAN_ARCH[m] ?? m;
}

/** /etc/os-release (freedesktop os-release(5)): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!.trim();
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    out[m[1]!] = v;
  }
  return out;
}

async function osFact(path: string): Promise<BoxProbe['os']> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return absentFact(`cannot read ${path}`);
  }
  const r = parseOsRelease(text);
  if (!r.ID) return absentFact(`${path} has no ID`);
  const versionId = r.VERSION_ID ?? '';
  return {
    present: true,
    id: r.ID,
    versionId,
    target: versionId ? `${r.ID}-${versionId}` : r.ID,
    ...(r.PRETTY_NAME ? { prettyName: r.PRETTY_NAME } : {}),
    ...(r.VERSION_CODENAME ? { codename: r.VERSION_CODENAME } : {}),
  };
}

async function dpkgFact(path: string): Promise<BoxProbe['dpkg']> {
  try {
    const { text, packages } = await reduceStatus(createReadStream(path));
    return { present: true, path, packages, ...encodeStatus(text) };
  } catch (err) {
    return absentFact(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The venv's python when the venv exists (what pip install will use), else python3 (what makes the venv). */
async function pythonFacts(exec: Exec, venv: string): Promise<{ python: BoxProbe['python']; venv: BoxProbe['venv'] }> {
  const venvPython = join(venv, 'bin', 'python');
  const hasVenv = await stat(venvPython).then(
    (s) => s.isFile(),
    () => false,
  );
  let venvF: BoxProbe['venv'] = absentFact(`no virtual environment at ${venv} (no ${venvPython})`);
  if (hasVenv) {
    const r = await runPythonProbe(exec, venvPython, true);
    if (r.facts) {
      venvF = venvFact(venv, r.facts);
      const python = pythonFact(r.facts);
      if (python.present) return { python, venv: venvF };
    } else {
      venvF = absentFact(`${venvPython} cannot run: ${r.reason}`);
    }
  }
  const r = await runPythonProbe(exec, 'python3', false);
  return { python: r.facts ? pythonFact(r.facts) : absentFact(r.reason ?? 'python3 gave nothing'), venv: venvF };
}

async function hfFact(home: string): Promise<BoxProbe['hf']> {
  const hub = join(home, 'hub');
  let names: string[];
  try {
    names = (await readdir(hub)).sort();
  } catch {
    return absentFact(`no HF cache at ${hub}`);
  }
  const repos: Extract<BoxProbe['hf'], { present: true }>['repos'] = [];
  for (const name of names) {
    const m = /^(models|datasets)--(.+)$/.exec(name);
    if (!m) continue;
    const dir = join(hub, name);
    const refs: Record<string, string> = {};
    for (const ref of await readdir(join(dir, 'refs')).catch(() => [] as string[])) {
      const commit = (await readFile(join(dir, 'refs', ref), 'utf8').catch(() => '')).trim();
      if (commit) refs[ref] = commit;
    }
    const snapshots = [];
    for (const commit of (await readdir(join(dir, 'snapshots')).catch(() => [] as string[])).sort()) {
      const snap = join(dir, 'snapshots', commit);
      const present: string[] = [];
      for (const e of await walk(snap).catch(() => [])) {
        if (e.kind !== 'file' && e.kind !== 'symlink') continue;
        // A snapshot link whose blob never arrived (an interrupted download) is not a file the box has.
        if (
          await stat(join(snap, e.path)).then(
            (s) => s.isFile(),
            () => false,
          )
        )
          present.push(e.path);
      }
      snapshots.push({ commit, files: present });
    }
    repos.push({ repo: m[2]!.split('--').join('/'), type: m[1] === 'models' ? 'model' : 'dataset', refs, snapshots });
  }
  return { present: true, home, repos };
}

/** Where `vault-bundle install` keeps its journal; a non-root probe also looks at root's. */
function defaultStateDirs(): string[] {
  return [...new Set(['/var/lib/vault-bundle', defaultStateDir()])];
}

async function bundlesFact(dirs: string[]): Promise<BoxProbe['bundles']> {
  for (const dir of dirs) {
    const journal = journalPath(dir);
    if (
      !(await stat(journal).then(
        (st) => st.isFile(),
        () => false,
      ))
    )
      continue;
    // The last real install of each name@version.
    const last = new Map<string, { name: string; version: string; installedAt: string; path?: string }>();
    for (const e of await readJournal(journal)) {
      if (!isInstalled(e)) continue;
      const b = e.bundle;
      last.set(`${b.name}@${b.version}`, { name: b.name, version: b.version, installedAt: e.time, path: b.path });
    }
    return { present: true, journal, installed: [...last.values()] };
  }
  return absentFact(`no vault-bundle journal in ${dirs.join(' or ')} (nothing installed by vault-bundle yet)`);
}

/** The stamp a complete install wrote: which bundle this box runs. */
async function imageVersionFact(files: string[]): Promise<NonNullable<BoxProbe['imageVersion']>> {
  const all = [...new Set(files)];
  for (const file of all) {
    const stamp = await readImageVersion(file);
    if (stamp) return { present: true, file, stamp };
  }
  return absentFact(`no readable ${all.join(' or ')} (no complete vault-bundle install stamped this box yet)`);
}
