import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO, runCli } from './helpers/cli.js';
import { fileManifest } from './helpers/fixtures.js';
import { tempDir } from './helpers/tmp.js';

/** The commands the top-level --help lists (the first word of each line under "Commands:"). */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('--help examples', () => {
  it("every command's --help ends with 2-3 examples whose flags that command (or the global options) accepts", async () => {
    const top = await runCli(['--help']);
    const commands = commandsOf(top.stdout);
    expect(commands).toEqual(expect.arrayContaining(['lock', 'build', 'verify', 'sign', 'inspect', 'install', 'smoke', 'audit', 'report']));
    const helps = await Promise.all(commands.map(async (c) => ({ c, h: await runCli([c, '--help']) })));
    const helpOf = new Map(helps.map(({ c, h }) => [c, h.stdout]));
    for (const { c, h } of helps) {
      expect(h.code, c).toBe(0);
      const examples = h.stdout.split(/^Examples:$/m)[1];
      expect(examples, `${c} --help has an Examples section`).toBeDefined();
      expect(h.stdout.trimEnd().endsWith(examples!.trimEnd()), `${c}: the examples come last`).toBe(true);
      const lines = examples!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      expect(lines.length, c).toBeGreaterThanOrEqual(2);
      expect(lines.length, c).toBeLessThanOrEqual(3);
      for (const line of lines) {
        expect(line, c).toMatch(/^\$ vault-bundle /);
        const words = line.split(/\s+/).slice(2);
        // The verb is the first word that is not a global option (or its value); its help must list each flag.
        const verb = words.find((w, i) => !w.startsWith('-') && !(i > 0 && words[i - 1] === '--cache-dir'));
        expect(helpOf.has(verb!), `${line}: ${verb} is a command`).toBe(true);
        for (const flag of words.filter((w) => /^--?[a-z]/.test(w))) {
          expect(helpOf.get(verb!)!, `${line}: ${flag}`).toMatch(new RegExp(`(^|[ ,])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'm'));
        }
      }
    }
  });
});

describe('verbs load their library when they run', () => {
  it('verify (what runs on the box) loads no code of the sources, lock, fetch, SBOM, audit, report, install or smoke', async () => {
    const dir = await tempDir();
    const { manifest } = await fileManifest(dir);
    const out = join(dir, 'out');
    expect((await runCli(['-q', '--cache-dir', join(dir, 'c'), 'build', manifest, '--out', out, '--runtime', 'none'])).code).toBe(0);
    // A module hook that names every source file Node loads (the sources run through tsx, as in a checkout).
    const hook = join(dir, 'hook.mjs');
    await writeFile(
      hook,
      "export async function load(url, context, next) {\n  if (url.includes('/src/')) process.stderr.write(`LOAD ${url}\\n`);\n  return next(url, context);\n}\n",
    );
    const reg = join(dir, 'register.mjs');
    await writeFile(reg, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
    const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--import', reg, join(REPO, 'src/cli/run.ts'), 'verify', out], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const loaded = [...r.stderr.matchAll(/^LOAD .*?\/src\/(.+)$/gm)].map((m) => m[1]!);
    expect(loaded).toEqual(expect.arrayContaining(['cli/main.ts', 'bundle/verify.ts']));
    // lock/lock.ts is the lock's format, which bundle.json shares; resolving and locking are lock/'s other files.
    const heavy = loaded.filter(
      (f) => (/^(sources|lock|fetch|manifest|sbom|audit|report|install|smoke|probe)\//.test(f) && f !== 'lock/lock.ts') || f === 'bundle/publish.ts',
    );
    expect(heavy).toEqual([]);
  });
});
