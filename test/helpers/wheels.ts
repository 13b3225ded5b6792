import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FixtureProject {
  name: string;
  version: string;
  dependencies?: string[];
  extras?: Record<string, string[]>;
  requiresPython?: string;
  /** How the project declares its licence (default: setuptools with `license = {text = "MIT"}`). */
  license?:
    | { expression: string } // PEP 639 License-Expression, built by hatchling (setuptools 66 cannot write it)
    | { classifiers: string[] }; // only `License ::` classifiers, no License field
}

/** The small projects the pip tests resolve: dependencies, an extra, and a marker for old Pythons. */
export const PROJECTS: FixtureProject[] = [
  { name: 'vb-alpha', version: '1.0.0', dependencies: ['vb-beta>=2', "vb-old; python_version < '3.10'"], extras: { gpu: ['vb-gamma~=0.3'] } },
  { name: 'vb-beta', version: '1.0.0' },
  { name: 'vb-beta', version: '2.1.0' },
  { name: 'vb-beta', version: '3.0.0rc1' },
  { name: 'vb-gamma', version: '0.3.2', dependencies: ['vb-beta'] },
  { name: 'vb-old', version: '1.0' },
  { name: 'vb-broken', version: '1.0', dependencies: ['vb-missing>=1'] },
];

/**
 * Builds the fixture projects into wheels with the real `pip wheel` (offline: Debian's python3 with setuptools
 * and wheel, no build isolation), once per definition: the folder is cached under the temp dir by content.
 */
export function fixtureWheels(projects: FixtureProject[] = PROJECTS): string {
  const key = createHash('sha256').update(JSON.stringify(projects)).digest('hex').slice(0, 12);
  const out = join(tmpdir(), `vault-bundle-wheels-${key}`);
  if (existsSync(join(out, '.done'))) return out;
  const src = join(out, 'src');
  mkdirSync(src, { recursive: true });
  const dirs: string[] = [];
  for (const p of projects) {
    const dir = join(src, `${p.name}-${p.version}`);
    const mod = p.name.replace(/-/g, '_');
    mkdirSync(join(dir, mod), { recursive: true });
    writeFileSync(join(dir, mod, '__init__.py'), `VERSION = ${JSON.stringify(p.version)}\n`);
    const hatch = p.license !== undefined && 'expression' in p.license;
    const toml = [
      '[build-system]',
      hatch ? 'requires = ["hatchling"]' : 'requires = ["setuptools"]',
      hatch ? 'build-backend = "hatchling.build"' : 'build-backend = "setuptools.build_meta"',
      '[project]',
      `name = "${p.name}"`,
      `version = "${p.version}"`,
      ...(p.license === undefined ? ['license = {text = "MIT"}'] : []),
      ...(p.license && 'expression' in p.license ? [`license = ${JSON.stringify(p.license.expression)}`] : []),
      ...(p.license && 'classifiers' in p.license ? [`classifiers = ${JSON.stringify(p.license.classifiers)}`] : []),
      `dependencies = ${JSON.stringify(p.dependencies ?? [])}`,
      ...(p.requiresPython ? [`requires-python = "${p.requiresPython}"`] : []),
      ...(p.extras ? ['[project.optional-dependencies]', ...Object.entries(p.extras).map(([k, v]) => `${k} = ${JSON.stringify(v)}`)] : []),
      ...(hatch ? ['[tool.hatch.build.targets.wheel]', `packages = ["${mod}"]`] : ['[tool.setuptools]', `packages = ["${mod}"]`]),
    ].join('\n');
    writeFileSync(join(dir, 'pyproject.toml'), `${toml}\n`);
    dirs.push(dir);
  }
  // One pip call per batch of distinct names: pip refuses two versions of one project in a single call.
  const batches: string[][] = [];
  projects.forEach((p, i) => {
    const b = batches.find((x) => !x.some((d) => d.includes(`/${p.name}-`)));
    if (b) b.push(dirs[i]!);
    else batches.push([dirs[i]!]);
  });
  for (const batch of batches) {
    execFileSync('/usr/bin/python3', ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', join(out, 'wheels'), ...batch], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    });
  }
  writeFileSync(join(out, '.done'), readdirSync(join(out, 'wheels')).join('\n'));
  return out;
}
