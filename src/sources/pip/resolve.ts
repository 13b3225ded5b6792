import type { IndexFile } from './simple.js';
import { evaluateMarker, type MarkerEnv } from './markers.js';
import { parseRequirement } from './requirement.js';
import { compareVersions, normalizeName, tryParseVersion } from './pep440.js';
import { filterVersions, parseSpecifierSet, satisfies } from './specifiers.js';
import { bestWheel } from './tags.js';
import { wheelLicence } from './licence.js';

/** What a requirement needs: a name, extras, versions, and who asked (for messages). */
export interface Want {
  name: string;
  extras: string[];
  specifier: string;
  /** sha256 pins from a requirements file (--hash); any of them may match. */
  hashes: string[];
  chain: string[];
}

/** The distribution chosen for a project. */
export interface Chosen {
  name: string;
  version: string;
  file: IndexFile;
  extras: Set<string>;
  requires: string[];
  /** Names of the chosen distributions it depends on (for SBOM edges). */
  dependsOn: Set<string>;
  pinnedHashes: string[];
  chain: string[];
  /** The declared licence from the core metadata (licence.ts). */
  license?: string;
}

export class PipResolveError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'NO_WHEEL' | 'CONFLICT' | 'UNPINNED_URL' | 'HASH_MISMATCH',
    readonly project: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PipResolveDeps {
  /** Every file the indexes and find-links offer for a (normalised) project. */
  list(project: string): Promise<IndexFile[]>;
  /** Core metadata text of a chosen wheel (PEP 658 file, or read from the wheel). */
  metadata(file: IndexFile): Promise<string>;
  env: MarkerEnv;
  tags: string[];
  python: string;
}

/**
 * Resolves requirements to one wheel per project, breadth-first and without backtracking (a pinned set is the
 * expected input): each project gets the highest version that satisfies every specifier seen so far, has a
 * wheel for the target's tags and Requires-Python, and is not yanked (unless pinned with ==). A later
 * requirement that the chosen version does not satisfy is a conflict, reported with both chains of requirers.
 */
export async function resolveWheels(roots: Want[], deps: PipResolveDeps): Promise<Chosen[]> {
  const chosen = new Map<string, Chosen>();
  const queue = [...roots];
  while (queue.length > 0) {
    const want = queue.shift()!;
    const name = normalizeName(want.name);
    const have = chosen.get(name);
    if (have) {
      if (want.specifier && !satisfies(have.version, parseSpecifierSet(want.specifier), { prereleases: true })) {
        throw new PipResolveError(
          'CONFLICT',
          name,
          `${name}: ${requirers(want.chain)} needs ${name}${want.specifier}, but ${have.version} was chosen for ${requirers(have.chain)}`,
        );
      }
      const newExtras = want.extras.filter((e) => !have.extras.has(e));
      if (newExtras.length) {
        for (const e of newExtras) have.extras.add(e);
        queue.push(...requirementsOf(have, deps.env, newExtras, true));
      }
      continue;
    }
    const pick = await choose(name, want, deps);
    const text = await deps.metadata(pick.file);
    const meta = parseMetadataRequires(text);
    const license = wheelLicence(text);
    const c: Chosen = {
      ...(license ? { license } : {}),
      name,
      version: pick.version,
      file: pick.file,
      extras: new Set(want.extras),
      requires: meta,
      dependsOn: new Set(),
      pinnedHashes: want.hashes,
      chain: want.chain,
    };
    chosen.set(name, c);
    queue.push(...requirementsOf(c, deps.env, [...c.extras], false));
  }
  // Edges for the SBOM: each chosen project's requirements that were chosen too.
  for (const c of chosen.values()) {
    for (const r of c.requires) {
      const req = parseRequirement(r);
      if (chosen.has(normalizeName(req.name))) c.dependsOn.add(normalizeName(req.name));
    }
  }
  return [...chosen.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Who asked for a project: the chain of requirers, or the manifest itself for a top-level requirement. */
function requirers(chain: readonly string[]): string {
  return chain.length ? chain.join(' ← ') : 'the manifest (pip.packages)';
}

function requirementsOf(c: Chosen, env: MarkerEnv, extras: string[], onlyExtras: boolean): Want[] {
  const out: Want[] = [];
  for (const line of c.requires) {
    const r = parseRequirement(line);
    if (r.url) throw new PipResolveError('UNPINNED_URL', c.name, `${c.name} ${c.version} requires ${line}: a direct URL cannot be locked`);
    const applies = (extra: string) => !r.marker || evaluateMarker(r.marker, { ...env, extra });
    const base = !onlyExtras && applies('');
    const viaExtra = extras.some((e) => applies(e));
    if (!base && !viaExtra) continue;
    out.push({ name: r.name, extras: r.extras, specifier: r.specifier, hashes: [], chain: [`${c.name}==${c.version}`, ...c.chain] });
  }
  return out;
}

async function choose(name: string, want: Want, deps: PipResolveDeps): Promise<{ version: string; file: IndexFile }> {
  const files = await deps.list(name);
  const who = want.chain.length ? ` (needed by ${want.chain.join(' ← ')})` : '';
  if (files.length === 0) throw new PipResolveError('NOT_FOUND', name, `${name}: no such project on the indexes or in find-links${who}`);
  const spec = parseSpecifierSet(want.specifier);
  const pinned = /^\s*===?\s*[^,*]+$/.test(want.specifier);
  const byVersion = new Map<string, IndexFile[]>();
  for (const f of files) {
    const v = versionOf(f.filename);
    if (!v || !tryParseVersion(v)) continue;
    byVersion.set(v, [...(byVersion.get(v) ?? []), f]);
  }
  const versions = [...byVersion.keys()].sort((a, b) => compareVersions(b, a));
  // PEP 440 "Handling of pre-releases": only when asked for, or when nothing final matches.
  const matching = filterVersions(versions, spec);
  const tried: string[] = [];
  for (const v of matching) {
    const candidates = byVersion.get(v)!.filter((f) => (!f.yanked || pinned) && requiresPythonOK(f, deps.python));
    const wheels = candidates.filter((f) => f.filename.endsWith('.whl'));
    const best = bestWheel(
      wheels.map((f) => f.filename),
      deps.tags,
    );
    if (best) return { version: v, file: wheels.find((f) => f.filename === best)! };
    if (candidates.length)
      tried.push(
        `${v}: ${
          wheels.length
            ? `wheels only for ${[
                ...new Set(
                  wheels.map((f) =>
                    f.filename
                      .split('-')
                      .slice(-3)
                      .join('-')
                      .replace(/\.whl$/, ''),
                  ),
                ),
              ]
                .slice(0, 4)
                .join(', ')}`
            : 'source distribution only'
        }`,
      );
    if (pinned) break;
  }
  if (matching.length === 0) {
    throw new PipResolveError(
      'NOT_FOUND',
      name,
      `${name}${want.specifier}: no matching version${who} (available: ${versions.slice(0, 8).join(', ')}${versions.length > 8 ? ', …' : ''})`,
    );
  }
  throw new PipResolveError(
    'NO_WHEEL',
    name,
    `${name}${want.specifier}: no wheel for the target (${deps.tags[0] ?? '?'} …)${who}; ${tried.slice(0, 3).join('; ') || 'all candidates are yanked or need another Python'}`,
  );
}

/** `name-version-…` of a wheel or sdist file name (PEP 427 / PEP 625). */
export function versionOf(filename: string): string | undefined {
  if (filename.endsWith('.whl')) return filename.split('-')[1];
  const m = /^(.+)-([^-]+)\.(tar\.gz|zip|tar\.bz2)$/.exec(filename);
  return m?.[2];
}

function requiresPythonOK(f: IndexFile, python: string): boolean {
  if (!f.requiresPython) return true;
  try {
    return satisfies(`${python}.0`, parseSpecifierSet(f.requiresPython), { prereleases: true });
  } catch {
    return true;
  }
}

function parseMetadataRequires(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const m = /^Requires-Dist:\s*(.+)$/i.exec(line);
    if (m) out.push(m[1]!.trim());
  }
  return out;
}
