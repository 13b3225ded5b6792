/**
 * Device run of `vault-bundle smoke` (not part of the repo): makes a tiny real bundle (two tiny HF models as
 * blobs + bundle.json), installs the models into an HF cache with the real hf installer, then runs every
 * smoke check against that bundle; then a second run of gpu.matmul/gpu.membw compared with the saved baseline.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reexecInNetns, runSmoke } from '../../../src/smoke/smoke.js';
import { installModels } from '../../../src/sources/hf/install.js';
import { writeTinyModel } from '../../../tools/tiny-model/index.js';
import { gitBlobSha1 } from '../../../src/sources/hf/index.js';
import type { Locked } from '../../../src/sources/source.js';
import type { VaultEvent } from '../../../src/util/events.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
}

async function main(): Promise<number> {
  if (process.argv.includes('--netns')) {
    const code = await reexecInNetns({ warn: (m) => console.error(`warn: ${m}`) });
    if (code !== undefined) return code;
  }
  const out = arg('--out', '/tmp/vb/res');
  const work = arg('--work', '/tmp/vb/work');
  const home = join(work, 'hf-home');
  const bundle = join(work, 'bundle');
  const artifacts: Locked[] = [];
  for (const [repo, arch, seed] of [['vault-ai/tiny-gpt2', 'gpt2', 1], ['vault-ai/tiny-opt', 'opt', 2]] as const) {
    const m = await writeTinyModel(join(work, 'src', repo), { arch, seed });
    const commit = createHash('sha1').update(Object.entries(m.sha256).map(([p, h]) => `${p}\0${h}\n`).join('')).digest('hex');
    for (const [path, data] of Object.entries(m.files)) {
      const sha = m.sha256[path]!;
      const lfs = path.endsWith('.safetensors');
      await mkdir(join(bundle, 'blobs/sha256'), { recursive: true });
      await writeFile(join(bundle, 'blobs/sha256', sha), data);
      const gitOid = gitBlobSha1(data);
      artifacts.push({
        kind: 'hf', id: `hf:${repo}@${commit}/${path}`, name: `${repo}/${path}`, version: commit, digest: `sha256:${sha}`, size: data.length,
        url: `file:///${path}`, purl: `pkg:huggingface/${repo}@${commit}`, provenance: { kind: 'manifest-pin', manifest: 'device' },
        meta: { repo, type: 'model', commit, revision: 'main', path, gitOid, etag: lfs ? sha : gitOid, home },
      });
    }
  }
  await writeFile(join(bundle, 'bundle.json'), JSON.stringify({ schema: 'vault-bundle/v1', name: 'smoke-device', version: '0.0.1', artifacts }, null, 2));
  const rep = await installModels(artifacts, {
    bundleDir: bundle, blobPath: (i) => join(bundle, 'blobs/sha256', i.digest.slice(7)), workDir: work, stateDir: join(work, 'state'), dryRun: false,
    options: {}, exec: async () => ({ code: 0, stdout: '', stderr: '' }), report: () => {}, signal: new AbortController().signal,
  });
  console.error(`installed ${rep.changed.length} model files into ${home}`);
  const report = (e: VaultEvent) => console.error(`[${new Date().toISOString()}] ${e.type}: ${'phase' in e ? e.phase : 'message' in e ? e.message : JSON.stringify(e)}`);
  const r1 = await runSmoke({ bundle, out, report, options: { expect: { count: 1, model: 'H200' }, matmul: { seconds: 10 } }, saveBaseline: join(out, 'baseline.json') });
  console.log(r1.summary);
  console.log(`exit code ${r1.exitCode}; files ${r1.files.join(', ')}; baseline ${r1.savedBaseline ?? 'not saved'}`);
  if (r1.savedBaseline) {
    const r2 = await runSmoke({ bundle, out: `${out}-compare`, only: ['gpu.matmul', 'gpu.membw'], report, baseline: r1.savedBaseline, sampler: false, options: { matmul: { seconds: 10 } } });
    console.log(r2.summary);
  }
  return r1.exitCode;
}

main().then((c) => (process.exitCode = c), (err: unknown) => {
  console.error(err);
  process.exitCode = 70;
});
