import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBuildCtx } from '../src/context.js';
import { aptSource } from '../src/sources/apt/index.js';
import { aptSchema } from '../src/sources/apt/schema.js';
import { aptIso, aptPlan, type AptIso } from './helpers/apt-iso.js';
import { tempDir } from './helpers/tmp.js';
import { tmpdir } from 'node:os';

// The real Debian mirror named by this machine's apt configuration (never written into the repo). The
// closure our resolver locks must equal what the real apt-get would install for the same request and target.
const COMPONENTS = ['main', 'contrib', 'non-free', 'non-free-firmware'];
let empty: AptIso | undefined;
let here: AptIso | undefined;

beforeAll(async () => {
  empty = await aptIso('empty', COMPONENTS);
  here = await aptIso('host', COMPONENTS, await readFile('/var/lib/dpkg/status', 'utf8'));
}, 180_000);

async function lockNames(packages: string[], targetStatus?: string): Promise<string[]> {
  const dir = await tempDir();
  const ctx = makeBuildCtx({
    // Indexes are content-addressed; one shared cache keeps reruns from fetching them again.
    cacheDir: join(tmpdir(), 'vault-bundle-test-cache'),
    report: () => {},
    signal: new AbortController().signal,
    manifestPath: 'm.yaml',
    baseDir: dir,
    target: { os: 'debian-12', arch: 'amd64' },
  });
  const spec = aptSchema.parse({ sources: [{ system: true, components: COMPONENTS }], packages, ...(targetStatus ? { 'target-status': targetStatus } : {}) });
  const locked = await aptSource.resolve(spec, ctx);
  await ctx.http.close();
  for (const a of locked) {
    expect(a.provenance.kind).toBe('signed-index');
    expect(a.url).toMatch(/\.deb$/);
  }
  return locked.map((a) => `${a.name}=${a.version}`).sort();
}

describe('apt closure equals apt-get on the real mirror', () => {
  it('jq and python3-numpy for an empty box', async () => {
    if (!empty) throw new Error('no Debian mirror configured in /etc/apt or it cannot be reached');
    expect(await lockNames(['jq'])).toEqual(await aptPlan(empty, ['jq']));
    const numpy = await lockNames(['python3-numpy']);
    expect(numpy.length).toBeGreaterThan(50);
    expect(numpy).toEqual(await aptPlan(empty, ['python3-numpy']));
  }, 120_000);

  it('nvidia-driver and nvidia-cuda-toolkit (contrib, non-free): about 560 packages', async () => {
    if (!empty) throw new Error('no Debian mirror configured in /etc/apt or it cannot be reached');
    const ours = await lockNames(['nvidia-driver', 'nvidia-cuda-toolkit']);
    expect(ours.length).toBeGreaterThan(500);
    expect(ours).toEqual(await aptPlan(empty, ['nvidia-driver', 'nvidia-cuda-toolkit']));
  }, 120_000);

  it("with this machine's dpkg status as the target, only what is missing", async () => {
    if (!here) throw new Error('no Debian mirror configured in /etc/apt or it cannot be reached');
    const ours = await lockNames(['jq', 'python3-numpy'], '/var/lib/dpkg/status');
    expect(ours).toEqual(await aptPlan(here, ['jq', 'python3-numpy']));
    expect(ours.length).toBeLessThan((await lockNames(['jq', 'python3-numpy'])).length);
  }, 120_000);
});
