import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readLock } from '../src/lock/lock.js';
import { checkApt } from '../src/sources/apt/simulate.js';
import type { BoxCtx } from '../src/sources/source.js';
import { hexOf } from '../src/store/digest.js';
import { execFile } from '../src/util/exec.js';
import { debianMirror, hasApt } from './helpers/apt-iso.js';
import { buildIn } from './helpers/build.js';
import { tempDir } from './helpers/tmp.js';

const REPO = resolve(import.meta.dirname, '..');
const QUICKSTART = join(REPO, 'manifests/quickstart.yaml');
/** The dpkg status of the stock Ubuntu 24.04 GPU box the quickstart names as its target (manifests/boxes/README.md). */
const BOX_STATUS = join(REPO, 'manifests/boxes/ubuntu-24.04-gpu.status');

describe('the quickstart installs on the box it targets', () => {
  it("names a stock Ubuntu 24.04 box and resolves its apt part against that box's committed dpkg status", async () => {
    const m = parse(await readFile(QUICKSTART, 'utf8')) as { target: { os: string }; apt: { 'target-status': string } };
    expect(m.target.os).toBe('ubuntu-24.04');
    expect(resolve(join(REPO, 'manifests'), m.apt['target-status'])).toBe(BOX_STATUS);
    const status = await readFile(BOX_STATUS, 'utf8');
    expect(status).toMatch(/^Package: libc6\nStatus: install ok installed\n(?:.*\n)*?Version: 2\.39-/m);
  });

  it("its apt closure installs onto that status with real apt (apt-get -s, the bundle's repository the only source)", async (t) => {
    const mirror = await debianMirror();
    if ('skip' in mirror) return t.skip(mirror.skip);
    if (!(await hasApt())) return t.skip('no apt-get here');
    const dir = await tempDir();
    // The quickstart's apt section as it is, its target-status made absolute; nothing else (no model to generate).
    const q = parse(await readFile(QUICKSTART, 'utf8')) as Record<string, unknown> & { apt: Record<string, unknown> };
    const manifest = { name: q.name, version: q.version, target: q.target, apt: { ...q.apt, 'target-status': BOX_STATUS } };
    const file = join(dir, 'quickstart-apt.yaml');
    await writeFile(file, stringify(manifest));
    const r = await buildIn(dir, file);
    const items = (await readLock(r.lockPath)).artifacts.filter((a) => a.kind === 'apt');
    // Only what the box lacks: not libc6, not anything the box has a newer Ubuntu build of.
    const names = items.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['tree', 'pciutils']));
    expect(names).not.toContain('libc6');
    for (const n of names) expect(status(n, await readFile(BOX_STATUS, 'utf8'))).toBeUndefined();
    const ctx: BoxCtx = {
      bundleDir: r.dir,
      blobPath: (a) => join(r.dir, 'blobs/sha256', hexOf(a.digest)),
      workDir: dir,
      stateDir: join(dir, 'state'),
      dryRun: true,
      options: {},
      exec: execFile,
      report: () => {},
      signal: new AbortController().signal,
    };
    // apt's own answer on that box: every bundled package installs, nothing is refused or downgraded.
    const { inst, changes } = await checkApt(items, ctx, { status: BOX_STATUS });
    // apt's plan as history records it: each package from "not installed" to the bundled version.
    expect(changes.map((c) => `${c.package}:${c.before}->${c.after}`).sort()).toEqual(items.map((a) => `${a.name}:null->${a.version}`).sort());
    expect(inst.map((s) => s.split('=')[0]).sort()).toEqual([...names].sort());
    // The check bites: the old quickstart (jq resolved for an empty box) is refused on that box, jq named.
    const old = join(dir, 'old-apt.yaml');
    await writeFile(old, stringify({ ...manifest, name: 'old', apt: { sources: 'system', packages: ['jq'] } }));
    const o = await buildIn(join(dir, 'o'), old, { cacheDir: join(dir, 'cache') });
    const oldItems = (await readLock(o.lockPath)).artifacts.filter((a) => a.kind === 'apt');
    await expect(
      checkApt(
        oldItems,
        { ...ctx, bundleDir: o.dir, blobPath: (a) => join(o.dir, 'blobs/sha256', hexOf(a.digest)), workDir: join(dir, 'o') },
        { status: BOX_STATUS },
      ),
    ).rejects.toMatchObject({
      code: 'APT_REFUSED',
      message: expect.stringMatching(/\bjq\b/),
    });
  }, 300_000);
});

/** The version of `name` in a dpkg status, if installed. */
function status(name: string, text: string): string | undefined {
  const stanza = text.split(/\n\n+/).find((s) => s.startsWith(`Package: ${name}\n`));
  return stanza ? /^Version: (.+)$/m.exec(stanza)?.[1] : undefined;
}
