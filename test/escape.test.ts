import { spawnSync } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeName, escapeText, isTerminalSafe, jsonLine } from '../src/util/escape.js';
import { runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { editTar, tarLayout, tarMember } from './helpers/tar.js';

/** Issue #14 class 4: a name from a bundle never reaches the terminal with the controls it holds. */
const EVIL = 'evil\x1b[2J\x1b[1A\rOK fake 1.0.0: all verified\u202etxt.exe\x9b1m';
// SHA256SUMS refuses a line with a carriage return in its name; ESC, C1 and bidi pass its parser.
const EVIL_SUM = 'sum\x1b[2J\x1b[1AOK fake\u202etxt\x9b1m';
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;

describe('escapeName, escapeText, jsonLine', () => {
  it('shows every control a terminal acts on, in a visible form', () => {
    expect(escapeName('a\x1b[2Jb\rc\nd\u202ee\x7f\x9b')).toBe('a\\x1b[2Jb\\x0dc\\x0ad\\u{202e}e\\x7f\\u{009b}');
    expect(escapeText('line one\n\tline two\x1b[1A')).toBe('line one\n\tline two\\x1b[1A');
    expect(isTerminalSafe(escapeName(EVIL))).toBe(true);
    expect(escapeName('plain-name_1.2+3 ü 日本')).toBe('plain-name_1.2+3 ü 日本');
  });
  it('--json keeps the exact name (a JSON reader gets it back) with nothing raw on the terminal', () => {
    const line = jsonLine({ name: EVIL });
    expect(RAW.test(line)).toBe(false);
    expect((JSON.parse(line) as { name: string }).name).toBe(EVIL);
  });
});

describe('crafted names in a bundle reach no terminal raw: verify, install, sh ./verify', () => {
  let work: string;
  let bundle: string;
  let tar: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-escape-'));
    const { manifest } = await fileManifest(work, { name: 'esc', sizes: [100] });
    bundle = join(work, 'b');
    tar = join(work, 'b.tar');
    const b = await runCli(['-q', '--cache-dir', join(work, 'cache'), 'build', manifest, '--out', bundle, '--runtime', 'host', '--tar', tar]);
    expect(b.code, b.stderr).toBe(0);
    // A crafted SHA256SUMS line (its file missing), one under runtime/ (the sh checks those), and a stray file.
    await appendFile(join(bundle, 'SHA256SUMS'), `${'0'.repeat(64)}  ${EVIL_SUM}\n${'1'.repeat(64)}  runtime/${EVIL_SUM}\n`);
    await writeFile(join(bundle, EVIL), 'x');
  }, 240_000);
  afterAll(() => rm(work, { recursive: true, force: true }));

  const clean = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout + r.stderr).not.toContain('\x1b');
    expect(RAW.test(r.stdout + r.stderr)).toBe(false);
  };

  it('verify (text and --json) names them escaped', async () => {
    const r = await runCli(['verify', bundle]);
    expect(r.code).toBe(4);
    clean(r);
    expect(r.stderr).toContain('evil\\x1b[2J\\x1b[1A\\x0dOK fake');
    expect(r.stderr).toContain('sum\\x1b[2J\\x1b[1AOK fake\\u{202e}txt\\u{009b}1m');
    expect(r.stdout).toMatch(/^FAILED /m);
    expect(r.stdout + r.stderr).not.toMatch(/^OK fake/m);
    const j = await runCli(['--json', 'verify', bundle]);
    clean(j);
    expect(j.stdout).toContain('\\u001b[2J');
  });

  it('install refuses it, naming it escaped', async () => {
    const r = await runCli(['install', bundle, '--dry-run', '--state-dir', join(work, 'state')]);
    expect(r.code).not.toBe(0);
    clean(r);
    const j = await runCli(['--json', 'install', bundle, '--dry-run', '--state-dir', join(work, 'state')]);
    clean(j);
  });

  it('the carried sh ./verify prints no raw control byte (sha256sum output included)', () => {
    const r = spawnSync('sh', [join(bundle, 'verify')], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(r.status).toBe(4);
    clean(r);
  });

  it('a tar member name with controls is shown escaped', async () => {
    const f = join(work, 'evil.tar');
    await copyFile(tar, f);
    await editTar(f, (t) => {
      const { end } = tarLayout(t);
      return Buffer.concat([t.subarray(0, end), tarMember(`esc-1.0.0/x\x1b[2J\x1b[1A\r\u202eOK`, 'x'), Buffer.alloc(1024)]);
    });
    const r = await runCli(['verify', f]);
    expect(r.code).toBe(4);
    clean(r);
    expect(r.stdout + r.stderr).toContain('x\\x1b[2J');
    const i = await runCli(['install', f, '--dry-run', '--state-dir', join(work, 'state')]);
    clean(i);
  });
});
