import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../../tools/tiny-model/index.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './apt-repo.js';
import { buildIn } from './build.js';
import { fixtureWheels } from './wheels.js';
import { gpgExport } from './gpg.js';

export interface SiteBundle {
  work: string;
  /** The signed bundle folder. */
  bundle: string;
  /** The release key: binary keyring (apt's signed-by) and armoured public key (verify --key). */
  release: SigningKey & { pub: string };
  /** The tiny model's files by path, as written. */
  model: { repo: string; files: Record<string, Buffer> };
  close(): Promise<void>;
}

/**
 * A small signed bundle with every kind a site serves: two .debs from a signed test repository (alpha depends
 * on beta), the fixture wheels vb-alpha and its closure, a tiny GPT-2 (a plain folder, commit derived) with a
 * model card, and a plain file.
 */
export async function siteBundle(): Promise<SiteBundle> {
  const work = await mkdtemp(join(tmpdir(), 'vb-site-'));
  const release = await makeKey(work, 'Release');
  const sec = gpgExport(release, true, join(work, 'release.sec.asc'));
  const pub = gpgExport(release, false, join(work, 'release.asc'));
  const repoKey = await makeKey(work, 'Repo');
  await makeRepo(join(work, 'repo'), {
    key: repoKey,
    packages: [
      { name: 'alpha', version: '1.0-1', depends: 'beta (>= 2)' },
      { name: 'beta', version: '2.1-1' },
    ],
  });
  const server = await serveDir(join(work, 'repo'));
  const model = await writeTinyModel(join(work, 'tiny'), { arch: 'gpt2', seed: 1 });
  await writeFile(join(work, 'tiny', 'README.md'), '---\nlicense: mit\n---\n# tiny gpt2\n');
  const files: Record<string, Buffer> = {};
  for (const [p, d] of Object.entries(model.files)) files[p] = Buffer.from(d as Uint8Array);
  files['README.md'] = Buffer.from('---\nlicense: mit\n---\n# tiny gpt2\n');
  await writeFile(join(work, 'hello.txt'), 'hello\n');
  const py = execFileSync('python3', ['-c', 'import sys;print(f"{sys.version_info[0]}.{sys.version_info[1]}")'], { encoding: 'utf8' }).trim();
  const m = join(work, 'site.yaml');
  await writeFile(
    m,
    [
      'name: site-test',
      'version: 1.0.0',
      `target: {os: debian-12, arch: amd64, python: "${py}"}`,
      'files:',
      `  - { name: hello.txt, path: hello.txt, sha256: ${execFileSync('sha256sum', [join(work, 'hello.txt')], { encoding: 'utf8' }).slice(0, 64)} }`,
      'apt:',
      '  sources:',
      `    - { uri: "${server.url}", suites: [stable], components: [main], signed-by: ${repoKey.keyring} }`,
      '  packages: [alpha]',
      'pip:',
      '  no-index: true',
      `  find-links: [${join(fixtureWheels(), 'wheels')}]`,
      '  packages: [vb-alpha==1.0.0]',
      'hf:',
      '  models:',
      '    - { repo: tiny/gpt2, local: tiny }',
      '',
    ].join('\n'),
  );
  const r = await buildIn(work, m, { out: join(work, 'bundle'), signKey: sec });
  await server.close();
  return {
    work,
    bundle: r.dir,
    release: { ...release, pub },
    model: { repo: 'tiny/gpt2', files },
    close: async () => {
      const { rm } = await import('node:fs/promises');
      for (const k of [release, repoKey]) execFileSync('gpgconf', ['--homedir', k.home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
      await rm(work, { recursive: true, force: true });
    },
  };
}
