import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The CLI runs two ways: packed (dist/vault-bundle.cjs, what ships to the box) and from a checkout
 * (bin/vault-bundle.js through tsx: what a release engineer and `npm start` run). Module formats differ between
 * them (a CommonJS dependency imported by name works packed and crashes from source), so every verb runs both ways.
 */
const OSV = join(import.meta.dirname, 'fixtures', 'osv');
const VERBS = [
  'lock',
  'build',
  'verify',
  'sign',
  'inspect',
  'install',
  'smoke',
  'why',
  'audit',
  'probe',
  'schema',
  'sbom',
  'diff',
  'report',
  'serve',
  'export',
  'push',
  'pull',
  'fleet',
  'cache',
  'history',
  'rollback',
];

describe.each(['packed', 'source'] as const)('the CLI %s', (from) => {
  it('every verb answers --help with its usage, exit 0', async () => {
    for (const verb of VERBS) {
      const r = await runCli([verb, '--help'], { from });
      expect({ verb, code: r.code, usage: r.stdout.includes(`vault-bundle ${verb}`) }).toEqual({ verb, code: 0, usage: true });
    }
  });

  it('builds, verifies, inspects, describes, diffs and audits a bundle with no internal error', async () => {
    const dir = await tempDir(`vb-cli-${from}`);
    const v1 = await fileManifest(dir, { version: '1.0.0' });
    const env = { VAULT_BUNDLE_CACHE: join(dir, 'cache') };
    const run = async (args: string[], code = 0) => {
      const r = await runCli(args, { from, env, cwd: dir });
      expect({ args: args.join(' '), code: r.code, stderr: r.code === code ? '' : r.stderr }).toEqual({ args: args.join(' '), code, stderr: '' });
      expect(r.stderr).not.toMatch(/internal error/);
      return r;
    };
    const b1 = join(dir, 'b1');
    await run(['build', v1.manifest, '--out', b1, '--runtime', 'none']);
    await run(['verify', b1]);
    await run(['inspect', b1]);
    await run(['why', b1, 'f1']);
    for (const format of ['cyclonedx', 'spdx', 'licenses']) await run(['sbom', b1, '--format', format]);
    const audit = await run(['--json', 'audit', b1, '--osv', OSV]);
    expect(JSON.parse(audit.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'result', failing: 0 });

    const m2 = join(dir, 'm2.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(m2, (await readFile(v1.manifest, 'utf8')).replace('version: 1.0.0', 'version: 1.1.0'));
    const b2 = join(dir, 'b2');
    await run(['build', m2, '--out', b2, '--runtime', 'none']);
    await run(['diff', b1, b2]);
    await run(['report', b2, '--out', join(dir, 'report.html')]);
    await run(['schema', '--out', join(dir, 'schema.json')]);
  });
});
