/**
 * Builds the two bundles bench/box/rollback.sh carries to the GPU box (issue #19): rb-box 1.1.0 and 1.2.0 for a
 * stock Ubuntu 24.04 GPU box (resolved against manifests/boxes/ubuntu-24.04-gpu.status, as the quickstart is),
 * each with `tree` from this host's apt sources, a tiny deb of ours from a local signed repository (vbtest 1.0;
 * in v2 vbtest 2.0, which depends on a new package vbextra), a pure-Python wheel (vb-beta 1.0.0 → 2.1.0) built
 * with the real `pip wheel`, the tiny GPT-2 (v2: a new revision), and a file (v2: changed bytes).
 *
 * Usage: npx tsx bench/rollback-bundles.ts <out folder>   → <out>/v1 and <out>/v2 (bundle folders with the runtime)
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { makeTinyModels } from '../tools/tiny-model/make-tiny.js';
import { makeKey, makeRepo } from '../test/helpers/apt-repo.js';
import { REPO, runCli } from '../test/helpers/cli.js';
import { sha256 } from '../test/helpers/fixtures.js';
import { fixtureWheels } from '../test/helpers/wheels.js';

const out = resolve(process.argv[2] ?? 'rollback-bundles');
const src = join(out, 'src');
await mkdir(src, { recursive: true });
const key = await makeKey(src, 'Rollback Bench Repo');
const repo = join(src, 'repo');
await makeRepo(repo, {
  key,
  packages: [
    { name: 'vbtest', version: '1.0', arch: 'all', payload: 'one\n' },
    { name: 'vbtest', version: '2.0', arch: 'all', payload: 'two\n', depends: 'vbextra' },
    { name: 'vbextra', version: '1.0', arch: 'all' },
  ],
});
const wheels = join(fixtureWheels(), 'wheels');
await makeTinyModels(join(src, 'models'));
const model2 = join(src, 'model-2');
await cp(join(src, 'models', 'tiny-gpt2'), model2, { recursive: true });
await writeFile(join(model2, 'README.md'), `${await readFile(join(model2, 'README.md'), 'utf8').catch(() => '')}\nrevision 2\n`);
for (const v of [1, 2] as const) {
  const motd = Buffer.from(`vault-ai rollback box run v${v}\n`);
  await writeFile(join(src, `motd-${v}.txt`), motd);
  const m = join(src, `v${v}.yaml`);
  await writeFile(
    m,
    [
      'name: rb-box',
      `version: 1.${v}.0`,
      'description: issue 19 rollback run (v1, v2, rollback) on a stock Ubuntu 24.04 GPU box',
      'target: { os: ubuntu-24.04, arch: amd64, python: "3.12" }',
      'files:',
      '  - name: motd',
      `    path: ${join(src, `motd-${v}.txt`)}`,
      `    sha256: ${sha256(motd)}`,
      '    install: { dest: /etc/vault-ai/motd.txt }',
      'apt:',
      '  sources:',
      '    - system: true',
      `    - { uri: "file://${repo}", suites: [stable], components: [main], signed-by: ${key.keyring} }`,
      `  packages: [tree, vbtest=${v}.0]`,
      `  target-status: ${join(REPO, 'manifests/boxes/ubuntu-24.04-gpu.status')}`,
      'pip:',
      '  no-index: true',
      `  find-links: [/usr/share/python-wheels, ${wheels}]`,
      `  packages: [setuptools==66.1.1, vb-beta==${v === 1 ? '1.0.0' : '2.1.0'}]`,
      '  python: "3.12"',
      'hf:',
      '  models:',
      '    - repo: vault-ai/tiny-gpt2',
      `      local: ${v === 1 ? join(src, 'models', 'tiny-gpt2') : model2}`,
      '',
    ].join('\n'),
  );
  const b = await runCli(['--cache-dir', join(src, 'cache'), 'build', m, '--out', join(out, `v${v}`)]);
  process.stdout.write(b.stdout);
  if (b.code !== 0) {
    process.stderr.write(b.stderr);
    process.exit(1);
  }
}
console.log(`bundles: ${join(out, 'v1')} ${join(out, 'v2')}`);
