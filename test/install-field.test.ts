import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installBundle } from '../src/install/install.js';
import { parseOsRelease } from '../src/probe/collect.js';
import type { Exec } from '../src/sources/source.js';
import type { VaultEvent } from '../src/util/events.js';
import { execFile } from '../src/util/exec.js';
import { buildIn } from './helpers/build.js';
import { BIN, runCli } from './helpers/cli.js';
import { sha256 } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** What a field tech's walkthrough of `install` on a box found; each test is one of those findings. */

/** This machine as install sees it: the target a bundle for it names. */
async function thisBox(): Promise<{ os: string; arch: string }> {
  const r = parseOsRelease(await readFile('/etc/os-release', 'utf8'));
  return { os: `${r.ID}-${r.VERSION_ID}`, arch: execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim() };
}

/** A bundle with one file that installs to <dir>/box/hello, for this box unless `target` says otherwise. */
async function fileBundle(dir: string, o: { name?: string; version?: string; target?: string; extra?: string } = {}): Promise<string> {
  const src = join(dir, `src-${o.name ?? 'field'}-${o.version ?? '1.0.0'}`);
  await mkdir(src, { recursive: true });
  const data = Buffer.from(`hello from ${o.version ?? '1.0.0'}\n`);
  await writeFile(join(src, 'hello.txt'), data);
  const box = await thisBox();
  const m = join(src, 'm.yaml');
  await writeFile(
    m,
    [
      `name: ${o.name ?? 'field'}`,
      `version: ${o.version ?? '1.0.0'}`,
      `target: ${o.target ?? `{ os: ${box.os}, arch: ${box.arch} }`}`,
      'files:',
      '  - name: hello',
      `    path: ${join(src, 'hello.txt')}`,
      `    sha256: ${sha256(data)}`,
      `    install: { dest: ${join(dir, 'box', 'hello')} }`,
      o.extra ?? '',
    ].join('\n'),
  );
  return (await buildIn(src, m, { out: join(dir, `${o.name ?? 'field'}-${o.version ?? '1.0.0'}`) })).dir;
}

describe('install and verify on a path that is not a bundle', () => {
  it('fail NOT_A_BUNDLE (exit 64) at once, without walking the tree (install . from /)', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state');
    // From /, walking the tree read for seconds and then failed on /proc as an internal error (exit 70).
    const root = await runCli(['install', '.', '--dry-run', '--state-dir', state], { cwd: '/' });
    expect(root.code).toBe(64);
    expect(root.stderr).toMatch(
      /^error: \/: not a vault-bundle bundle \(this folder has no bundle\.json and no SHA256SUMS or parts\.json\)\nhint: .*cd into the bundle folder/m,
    );
    expect(root.stderr).not.toContain('internal error');
    // verify on a folder of other files said BAD_SUMS (exit 4), which reads as a damaged bundle.
    await mkdir(join(dir, 'stuff'));
    await writeFile(join(dir, 'stuff', 'notes.txt'), 'not a bundle\n');
    const v = await runCli(['verify', join(dir, 'stuff')]);
    expect(v.code).toBe(64);
    expect(v.stderr).toContain('not a vault-bundle bundle');
    const j = await runCli(['--json', 'install', join(dir, 'stuff'), '--state-dir', state]);
    expect(j.code).toBe(64);
    expect(JSON.parse(j.stdout.trim().split('\n').at(-1)!)).toMatchObject({ type: 'error', code: 'NOT_A_BUNDLE' });
  });
});

describe('install flags', () => {
  it('--only refuses an unknown kind (BAD_FLAG, exit 64) before verifying, naming the kinds', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const typo = await runCli(['install', b, '--only', 'apt,models', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(typo.code).toBe(64);
    expect(typo.stderr).toContain('error: --only: unknown kind "models"; the kinds are file, apt, pip, hf');
    expect(typo.stderr).toContain('models are "hf"');
    expect(typo.stderr).not.toMatch(/^verify/m);
    // A known kind the bundle lacks installs nothing, and says so.
    const none = await runCli(['install', b, '--only', 'hf', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('warning: --only hf: field 1.0.0 has no hf artifacts');
  });

  it('--base given for a full bundle is warned about, not silently ignored', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const r = await runCli(['install', b, '--base', '/media/usb/old', '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: --base /media/usb/old is ignored: field 1.0.0 is a full bundle, not a delta');
  });
});

describe('install --dry-run and pip', () => {
  /** Debian's own python3 first: externally managed (PEP 668), as on a fresh Debian or Ubuntu box. */
  const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

  it('checks pip in a throwaway venv, made as the real run makes it, where the box python3 refuses pip (PEP 668)', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const b = await fileBundle(dir, {
      extra: `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [setuptools==66.1.1]\n  python: "3.11"\n  venv: ${venv}\n`,
    });
    // The condition the field tech hit: this python3's own pip refuses even a dry run.
    const sys = spawnSync('python3', ['-m', 'pip', 'install', '--dry-run', '--no-index', 'setuptools'], {
      env: { ...process.env, PATH: SYSTEM_PATH },
      encoding: 'utf8',
    });
    expect(sys.stderr).toContain('externally-managed-environment');
    const r = await runCli(['install', b, '--dry-run', '--state-dir', join(dir, 'state')], { env: { PATH: SYSTEM_PATH } });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`pip: \\d+ to install, \\d+ already in place .*\\n    \\+ venv ${venv}\\n`));
    // Nothing of it is left: not the venv, not the throwaway one.
    expect(existsSync(venv)).toBe(false);
  });

  it('says clearly when the box has no python3: a warning in the plan, TOOL_FAILED (exit 5) in the real run', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const b = await fileBundle(dir, {
      extra: `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [setuptools==66.1.1]\n  python: "3.11"\n  venv: ${venv}\n`,
    });
    const empty = join(dir, 'empty-bin');
    await mkdir(empty);
    const plan = await runCli(['install', b, '--dry-run', '--state-dir', join(dir, 'state')], { env: { PATH: empty } });
    expect(plan.code).toBe(0);
    expect(plan.stderr).toContain(
      "warning: pip's plan is not checked: no python3 on this box: the pip step needs it to make the venv; the real install fails at pip unless this is fixed",
    );
    expect(plan.stdout).toContain('    + setuptools==66.1.1');
    const real = await runCli(['install', b, '--only', 'pip', '--state-dir', join(dir, 'state')], { env: { PATH: empty } });
    expect(real.code).toBe(5);
    expect(real.stderr).toMatch(/^error: no python3 on this box: the pip step needs it to make the venv\nhint: add python3 and python3-venv/m);
  });
});

const noReport = () => {};
const run = (o: Partial<Parameters<typeof installBundle>[0]> & { bundle: string; stateDir: string }) =>
  installBundle({ dryRun: false, exec: execFile, report: noReport, signal: new AbortController().signal, ...o });

describe("install checks the box against the bundle's target first", () => {
  it('refuses another OS with TARGET_MISMATCH (exit 6) before changing anything; --ignore-target installs with warnings, journalled', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const state = join(dir, 'state');
    // The same bundle on an Ubuntu box (its os-release).
    const ubuntu = join(dir, 'os-release');
    await writeFile(ubuntu, 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\n');
    const err = await run({ bundle: b, stateDir: state, osRelease: ubuntu }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'TARGET_MISMATCH',
      exitCode: 6,
      message: expect.stringContaining(`OS: this box is ubuntu-24.04 (Ubuntu 24.04.1 LTS), the bundle is for ${(await thisBox()).os}`),
      hint: expect.stringContaining('--ignore-target'),
    });
    expect(existsSync(join(dir, 'box'))).toBe(false);
    expect(existsSync(state)).toBe(false);
    const events: VaultEvent[] = [];
    const ok = await run({ bundle: b, stateDir: state, osRelease: ubuntu, ignoreTarget: true, report: (e) => events.push(e) });
    expect(ok.reports[0]!.changed).toEqual([join(dir, 'box', 'hello')]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warn', message: expect.stringMatching(/^--ignore-target: OS: this box is ubuntu-24.04/) }));
    const entry = JSON.parse((await readFile(ok.journal!, 'utf8')).trim());
    expect(entry).toMatchObject({ ok: true, ignoredTarget: [expect.stringContaining('OS: this box is ubuntu-24.04')] });
  });

  it('a bundle that carries pip gets a venv of its wheels alone (no ensurepip pip or setuptools beside them)', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const b = await fileBundle(dir, {
      extra: `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [pip==23.0.1]\n  python: "3.11"\n  venv: ${venv}\n`,
    });
    const r = await runCli(['install', b, '--only', 'pip', '--state-dir', join(dir, 'state')]);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(execFileSync(join(venv, 'bin/python'), ['-m', 'pip', 'list', '--format=json'], { encoding: 'utf8' })) as { name: string }[];
    expect(list.map((p) => p.name)).toEqual(['pip']);
    const again = await runCli(['--json', 'install', b, '--only', 'pip', '--state-dir', join(dir, 'state')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('"unchanged":["pip==23.0.1"]');
  });

  it("refuses another architecture and the pip step's Python, all named at once (CLI, exit 6)", async () => {
    const dir = await tempDir();
    const box = await thisBox();
    const other = box.arch === 'arm64' ? 'amd64' : 'arm64';
    const venv = join(dir, 'venv');
    const b = await fileBundle(dir, {
      target: `{ os: ${box.os}, arch: ${other}, python: "3.99" }`,
      extra: `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [setuptools==66.1.1]\n  python: "3.11"\n  venv: ${venv}\n`,
    });
    const py = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).trim();
    const r = await runCli(['install', b, '--dry-run', '--state-dir', join(dir, 'state')]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`error: field 1.0.0 is built for ${box.os} ${other} Python 3.99, not for this box:\n`);
    expect(r.stderr).toContain(`  architecture: this box is ${box.arch}, the bundle is for ${other}\n`);
    expect(r.stderr).toContain(`  Python: the pip step will use python3 (Python ${py}), the bundle's wheels are for Python 3.99\n`);
    expect(r.stderr).not.toMatch(/^verify$/m);
    // Only the files: Python does not matter, the architecture still does.
    const files = await runCli(['install', b, '--dry-run', '--only', 'file', '--state-dir', join(dir, 'state')]);
    expect(files.code).toBe(6);
    expect(files.stderr).not.toContain('Python:');
  });

  it('a run that fails partway is journalled with what it did; it does not count as installed; a rerun completes it', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const pip = `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [setuptools==66.1.1]\n  python: "3.11"\n  venv: ${venv}\n`;
    const v2 = await fileBundle(dir, { version: '2.0.0', extra: pip });
    const state = join(dir, 'state');
    // python3 -m venv fails on this "box" (say, a full disk under /opt): the files are in, pip is not.
    const broken: Exec = async (cmd, args, o) =>
      cmd === 'python3' && args.includes('venv') ? { code: 1, stdout: '', stderr: 'Error: [Errno 28] No space left on device\n' } : execFile(cmd, args, o);
    const err = await run({ bundle: v2, stateDir: state, exec: broken }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOOL_FAILED', exitCode: 5, message: expect.stringContaining('No space left on device') });
    expect(existsSync(join(dir, 'box', 'hello'))).toBe(true);
    const journal = join(state, 'journal.jsonl');
    const lines = () =>
      readFile(journal, 'utf8').then((t) =>
        t
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    expect((await lines()).at(-1)).toMatchObject({
      bundle: { name: 'field', version: '2.0.0' },
      dryRun: false,
      ok: false,
      failedAt: 'pip',
      error: { code: 'TOOL_FAILED' },
      results: [{ kind: 'file', changed: [join(dir, 'box', 'hello')] }],
    });
    // 2.0.0 is not installed: 1.0.0 is no rollback (the journal of a partial run must not block the fix).
    const v1 = await fileBundle(dir, { version: '1.0.0', extra: pip });
    await run({ bundle: v1, stateDir: state, only: ['file'] });
    const again = await run({ bundle: v2, stateDir: state });
    expect(again.reports.map((r) => r.kind)).toEqual(['file', 'pip']);
    expect((await lines()).at(-1)).toMatchObject({ bundle: { version: '2.0.0' }, ok: true });
    expect(existsSync(join(venv, 'bin', 'python'))).toBe(true);
  });
});

describe('install --dry-run writes nothing; a real install checks its journal first', () => {
  it('a dry run leaves no state folder or journal; --state-dir that cannot be written fails before any change (WRITE_FAILED)', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const state = join(dir, 'state');
    const plan = await runCli(['install', b, '--dry-run', '--state-dir', state]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`    + ${join(dir, 'box', 'hello')}`);
    expect(existsSync(state)).toBe(false);
    expect(existsSync(join(dir, 'box'))).toBe(false);
    // A file where the state folder should be: it used to install everything, then fail writing the journal.
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    for (const dry of [true, false]) {
      const r = await runCli(['install', b, ...(dry ? ['--dry-run'] : []), '--state-dir', file]);
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`error: cannot keep the install journal ${file}/journal.jsonl: `);
      expect(r.stderr).toMatch(/hint: give --state-dir a folder this user can write .*nothing was changed/);
      expect(r.stderr).not.toMatch(/^install file/m);
    }
    expect(existsSync(join(dir, 'box'))).toBe(false);
  });
});

describe('install: interrupts and TMPDIR', () => {
  it('an interrupted install says to rerun it (not "resume from the cache") and is journalled as stopped', async () => {
    const dir = await tempDir();
    const venv = join(dir, 'venv');
    const b = await fileBundle(dir, {
      extra: `pip:\n  no-index: true\n  find-links: [/usr/share/python-wheels]\n  packages: [setuptools==66.1.1]\n  python: "3.11"\n  venv: ${venv}\n`,
    });
    const ctl = new AbortController();
    // Ctrl-C while pip's venv is being made: the child dies of the signal, the run stops.
    const exec: Exec = async (cmd, args, o) => {
      if (cmd === 'python3' && args.includes('venv')) {
        ctl.abort();
        return { code: 130, stdout: '', stderr: 'KeyboardInterrupt\n' };
      }
      return execFile(cmd, args, o);
    };
    const state = join(dir, 'state');
    const err = await run({ bundle: b, stateDir: state, exec, signal: ctl.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'INTERRUPTED',
      exitCode: 130,
      hint: expect.stringMatching(/^run the same install again: it skips what is already in place/),
    });
    expect((err as Error & { hint: string }).hint).not.toContain('cache');
    const last = JSON.parse((await readFile(join(state, 'journal.jsonl'), 'utf8')).trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ ok: false, failedAt: 'pip', error: { code: 'INTERRUPTED' } });
  });

  it('a read-only TMPDIR is WRITE_FAILED naming TMPDIR (exit 5), not an internal error', async () => {
    const dir = await tempDir();
    const b = await fileBundle(dir);
    const ro = join(dir, 'ro-tmp');
    await mkdir(ro);
    // A read-only tmpfs over the folder, in a mount namespace of its own: nothing outside it sees the mount.
    const r = spawnSync(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        `mount -t tmpfs -o ro tmpfs "${ro}" && exec "$@"`,
        'sh',
        process.execPath,
        BIN,
        'install',
        b,
        '--dry-run',
        '--state-dir',
        join(dir, 'state'),
      ],
      {
        env: { ...process.env, TMPDIR: ro },
        encoding: 'utf8',
      },
    );
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(5);
    expect(r.stderr).toContain(`error: cannot make a scratch folder in ${ro} (TMPDIR=${ro}): cannot write ${ro}: the filesystem is read-only`);
    expect(r.stderr).toContain('hint: set TMPDIR to a writable folder');
  });
});
