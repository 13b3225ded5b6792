/**
 * npm run bench:sbom (issue #16, "an SBOM a reviewer can use as it is"): builds one bundle of every kind from
 * real inputs — apt packages from the Debian mirror this machine's apt configuration names (VAULT_BENCH_SBOM_APT,
 * default "jq python3-numpy", with their closure), Debian's own wheels (/usr/share/python-wheels, find-links),
 * a generated model folder with a model card, a file with a manifest licence, and the carried runtime with its
 * packed npm packages — and prints the share of components whose licence is known (and known as a valid SPDX
 * expression), by kind, from `vault-bundle sbom --format licenses`. It also times what reading the .debs'
 * copyright files costs: a build with the blobs cached but not the licence facts, against a fully warm one.
 * Writes bench/results/<date>-sbom-<host>.json.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packScript } from '../src/runtime/pack.js';
import type { LicenseSummary } from '../src/sbom/licenses.js';
import { measure } from './measure.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO, 'dist', 'vault-bundle.cjs');
const APT = (process.env.VAULT_BENCH_SBOM_APT ?? 'jq python3-numpy').split(/\s+/).filter(Boolean);
const work = join(tmpdir(), 'vault-bench-sbom');
const log = (s: string) => process.stdout.write(`[bench:sbom] ${s}\n`);

function manifest(): string {
  mkdirSync(join(work, 'model'), { recursive: true });
  writeFileSync(join(work, 'model', 'config.json'), '{"model_type":"gpt2","n_layer":1}\n');
  writeFileSync(join(work, 'model', 'README.md'), '---\nlicense: apache-2.0\n---\n# a model\n');
  writeFileSync(join(work, 'motd.txt'), 'hello\n');
  const sha = createHash('sha256').update('hello\n').digest('hex');
  const m = join(work, 'm.yaml');
  writeFileSync(
    m,
    [
      'name: sbom-bench',
      'version: 1.0.0',
      'target: {os: debian-12, arch: amd64, python: "3.11"}',
      'files:',
      `  - {name: motd, path: motd.txt, version: "1", sha256: ${sha}, license: CC0-1.0, install: {dest: /etc/motd, mode: "0644"}}`,
      'apt:',
      '  sources: [{system: true}]',
      `  packages: [${APT.join(', ')}]`,
      'pip:',
      '  no-index: true',
      '  find-links: [/usr/share/python-wheels]',
      '  packages: [pip, setuptools]',
      'hf:',
      '  models: [{repo: bench/model, local: model}]',
      '',
    ].join('\n'),
  );
  return m;
}

async function main(): Promise<void> {
  await packScript(CLI);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const m = manifest();
  const cache = join(work, 'cache');
  const out = join(work, 'bundle');
  const build = () => measure(process.execPath, [CLI, '-q', '--cache-dir', cache, 'build', m, '--out', out, '--runtime', 'host']);
  log(`build (cold cache): apt ${APT.join(' ')}, pip, a model, a file, the runtime`);
  const cold = await build();
  if (cold.code !== 0) throw new Error(`build failed: ${cold.stderr}`);
  rmSync(join(cache, 'facts'), { recursive: true, force: true });
  const reread = await build();
  const warm = await build();
  const r = await measure(process.execPath, [CLI, '--json', 'sbom', out, '--format', 'licenses']);
  const s = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { licenses: LicenseSummary }).licenses;
  const byKind = new Map<string, { total: number; known: number }>();
  for (const l of s.byLicense)
    for (const [k, n] of Object.entries(l.kinds)) byKind.set(k, { total: (byKind.get(k)?.total ?? 0) + n, known: (byKind.get(k)?.known ?? 0) + n });
  for (const u of s.unknown) byKind.set(u.kind, { total: (byKind.get(u.kind)?.total ?? 0) + 1, known: byKind.get(u.kind)?.known ?? 0 });
  const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)} %` : '-');
  const lines = [
    `components with a known licence: ${s.known} of ${s.total} (${pct(s.known, s.total)}); as a valid SPDX expression: ${s.spdx} (${pct(s.spdx, s.total)})`,
    ...[...byKind].map(([k, v]) => `  ${k.padEnd(8)} ${v.known} of ${v.total} (${pct(v.known, v.total)})`),
    `build, cold cache: ${(cold.wallMs / 1000).toFixed(1)} s; blobs cached, .deb copyright files read again: ${(reread.wallMs / 1000).toFixed(1)} s` +
      ` (cpu ${((reread.cpuMs ?? 0) / 1000).toFixed(1)} s); fully warm: ${(warm.wallMs / 1000).toFixed(1)} s (cpu ${((warm.cpuMs ?? 0) / 1000).toFixed(1)} s)`,
  ];
  for (const l of lines) log(l);
  const results = join(REPO, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = join(results, `${new Date().toISOString().slice(0, 10)}-sbom-${process.env.VAULT_BENCH_HOST ?? hostname()}.json`);
  const byKindObj = Object.fromEntries(byKind);
  const data = {
    apt: APT,
    total: s.total,
    known: s.known,
    spdx: s.spdx,
    byKind: byKindObj,
    unknown: s.unknown,
    buildMs: { cold: cold.wallMs, reread: reread.wallMs, warm: warm.wallMs },
    cpuMs: { reread: reread.cpuMs, warm: warm.cpuMs },
  };
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench:sbom] ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
