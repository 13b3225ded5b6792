import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installBundle } from '../src/install/install.js';
import { parseOsRelease } from '../src/probe/collect.js';
import { writeTinyModel } from '../tools/tiny-model/index.js';
import { aptRefusal, parseAptRefusal } from '../src/sources/apt/simulate.js';
import type { VaultEvent } from '../src/util/events.js';
import { execFile } from '../src/util/exec.js';
import { makeKey, makeRepo, serveDir, type SigningKey } from './helpers/apt-repo.js';
import { buildIn } from './helpers/build.js';
import { runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** What apt 2.8 printed on the Ubuntu 24.04 box for the quickstart's Debian 12 jq closure (issue #15), trimmed. */
const FIELD_OUTPUT = `Reading package lists...
Building dependency tree...
Reading state information...
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 jq : Depends: libjq1 (= 1.6-2.1+deb12u3) but 1.7.1-3ubuntu0.24.04.2 is to be installed
      Depends: libonig5 (>= 6.9.8) but it is not going to be installed
 libjq1 : Breaks: jq (< 1.7) but 1.6-2.1+deb12u3 is to be installed

E: Unable to correct problems, you have held broken packages.`;

describe("apt's refusal in words", () => {
  it('names each package apt objects to and why, continuation lines included', () => {
    const r = parseAptRefusal(FIELD_OUTPUT);
    expect(r.objections).toEqual([
      { package: 'jq', relation: 'Depends', detail: 'libjq1 (= 1.6-2.1+deb12u3) but 1.7.1-3ubuntu0.24.04.2 is to be installed' },
      { package: 'jq', relation: 'Depends', detail: 'libonig5 (>= 6.9.8) but it is not going to be installed' },
      { package: 'libjq1', relation: 'Breaks', detail: 'jq (< 1.7) but 1.6-2.1+deb12u3 is to be installed' },
    ]);
    expect(r.errors).toEqual(['Unable to correct problems, you have held broken packages.']);
    const e = aptRefusal({ ok: false, ...r, output: FIELD_OUTPUT });
    expect(e).toMatchObject({ code: 'APT_REFUSED', exitCode: 6 });
    expect(e.message).toContain('(jq, libjq1); nothing was changed:\n  jq: Depends libjq1 (= 1.6-2.1+deb12u3) but 1.7.1-3ubuntu0.24.04.2 is to be installed\n');
    expect(e.hint).toContain('probe');
    expect(e.hint).toContain('--target box.json');
  });

  it('names what apt would downgrade', () => {
    const out =
      'The following packages will be DOWNGRADED:\n  jq libjq1\n0 upgraded, 0 newly installed, 2 downgraded, 0 to remove and 0 not upgraded.\nE: Packages were downgraded and -y was used without --allow-downgrades.\n';
    const r = parseAptRefusal(out);
    expect(r.downgrades).toEqual(['jq', 'libjq1']);
    expect(aptRefusal({ ok: false, ...r, output: out }).message).toContain('the box has newer jq, libjq1: apt would have to downgrade them');
  });
});

let work: string;
let key: SigningKey;
let server: Awaited<ReturnType<typeof serveDir>>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vb-apt-pre-'));
  key = await makeKey(work);
  const repo = join(work, 'repo');
  // needs-new-libc: resolved for a box with a libc6 this box does not have (as Debian 12's jq for Ubuntu's).
  await makeRepo(repo, { key, packages: [{ name: 'needs-new-libc', version: '1.0-1', depends: 'libc6 (>= 99)' }] });
  server = await serveDir(repo);
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('install asks apt first', () => {
  it('refuses a closure apt refuses before writing any file, venv or model; the journal says why', async () => {
    const dir = await tempDir();
    const r = parseOsRelease(await readFile('/etc/os-release', 'utf8'));
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    const data = Buffer.from('hello\n');
    await writeFile(join(dir, 'hello.txt'), data);
    // The build resolved against a box that has libc6 99 (target-status): this box has not.
    await writeFile(join(dir, 'status'), `Package: libc6\nStatus: install ok installed\nVersion: 99\nArchitecture: ${arch}\nMulti-Arch: same\n`);
    await writeTinyModel(join(dir, 'model'), { arch: 'gpt2', seed: 1 });
    const box = join(dir, 'box');
    const m = join(dir, 'm.yaml');
    await writeFile(
      m,
      [
        'name: refused',
        'version: 1.0.0',
        `target: { os: ${r.ID}-${r.VERSION_ID}, arch: ${arch} }`,
        'files:',
        `  - { name: hello, path: hello.txt, sha256: ${sha256(data)}, install: { dest: ${join(box, 'hello')} } }`,
        'apt:',
        `  sources: [{ uri: "${server.url}", suites: [stable], components: [main], signed-by: ${key.keyring} }]`,
        '  packages: [needs-new-libc]',
        '  target-status: status',
        'pip:',
        '  no-index: true',
        '  find-links: [/usr/share/python-wheels]',
        '  packages: [setuptools==66.1.1]',
        '  python: "3.11"',
        `  venv: ${join(box, 'venv')}`,
        'hf:',
        `  home: ${join(box, 'models')}`,
        '  models: [{ repo: local/tiny, local: model }]',
        '',
      ].join('\n'),
    );
    const b = (await buildIn(dir, m)).dir;
    const state = join(dir, 'state');
    const events: VaultEvent[] = [];
    const profile = join(box, 'profile.sh');
    const err = await installBundle({
      bundle: b,
      dryRun: false,
      stateDir: state,
      profile,
      exec: execFile,
      report: (e) => events.push(e),
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'APT_REFUSED', exitCode: 6, message: expect.stringContaining('needs-new-libc: Depends libc6 (>= 99) but') });
    // Nothing of any kind was written: not the file (which installs before apt), not the venv, not the model.
    expect(existsSync(box)).toBe(false);
    expect(events.filter((e) => e.type === 'phase').map((e) => (e as { phase: string }).phase)).not.toContain('install file');
    const journal = (await readFile(join(state, 'journal.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(journal.at(-1)).toMatchObject({
      ok: false,
      failedAt: 'apt',
      results: [],
      error: { code: 'APT_REFUSED', message: expect.stringContaining('libc6 (>= 99)') },
    });
    // The dry run says the same, exit 6, with the hint; it writes no journal line.
    const dry = await runCli(['install', b, '--dry-run', '--state-dir', join(dir, 'state2')]);
    expect(dry.code).toBe(6);
    expect(dry.stderr).toMatch(/^error: apt would not install this bundle's packages on this box \(needs-new-libc\); nothing was changed:/m);
    expect(dry.stderr).toMatch(/^hint: .*probe/m);
    expect(existsSync(join(dir, 'state2'))).toBe(false);
  }, 120_000);
});
