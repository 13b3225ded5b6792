import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The docs are tested as code. Fenced ```sh blocks of README.md and docs/*.md are commands:
 *  - every `vault-bundle <verb> …` (also `./vault-bundle`, `node bin/vault-bundle.js`) and `./verify` line names
 *    a verb that exists and only flags that `vault-bundle <verb> --help` lists;
 *  - ```sh run blocks (docs/release-engineer.md's walkthrough) run for real, in order, in a temp folder, and the
 *    ```text block after each shows what it printed (times, sizes, fingerprints and dates aside);
 *  - ```sh box blocks run on a GPU box: checked, never run here; plain ```sh blocks are checked, not run.
 * The examples each command's --help ends with are checked the same way. docs/reference.md names every flag of
 * every command and every manifest field; relative links resolve.
 */

const run = promisify(execFile);
const DOC_FILES = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (f: string) => readFileSync(join(REPO, f), 'utf8');

interface Block {
  file: string;
  line: number;
  lang: string;
  tags: string[];
  body: string;
  /** The ```text block right after this one, if any (what the commands printed). */
  output?: string;
  /** The line after the closing fence. */
  end: number;
}

function blocks(file: string): Block[] {
  const lines = read(file).split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const b: Block = { file, line: start + 1, lang: open[1]!, tags: open[2]!.split(/\s+/).filter(Boolean), body: body.join('\n'), end: i + 1 };
    const prev = out.at(-1);
    if (b.lang === 'text' && prev && prev.lang === 'sh' && prev.output === undefined && prev.end === start) prev.output = b.body;
    out.push(b);
  }
  return out;
}

interface Invocation {
  where: string;
  /** The words after `vault-bundle` (global options, the verb, a subcommand, arguments, flags). */
  words: string[];
  text: string;
}

/** The vault-bundle invocations in a sh block: heredoc bodies and comments skipped, continuations joined. */
function invocations(b: Block): Invocation[] {
  const out: Invocation[] = [];
  const lines = b.body.replace(/\\\n/g, ' ').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const here = /<<-?\s*'?(\w+)'?/.exec(line);
    if (here) while (i + 1 < lines.length && lines[i + 1]!.trim() !== here[1]) i++;
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const segment of code.split(/&&|\|\||[|;]|\$\(|\(|\)/)) {
      const words = segment.trim().split(/\s+/).filter(Boolean);
      const at = words.findIndex((w) => /^(?:\S*\/)?vault-bundle(?:\.c?js)?$/.test(w) || /^\S*\/verify$/.test(w));
      if (at < 0) continue;
      const after = /\/verify$/.test(words[at]!) ? ['verify', ...words.slice(at + 1)] : words.slice(at + 1);
      out.push({ where: `${b.file}:${b.line}`, words: after, text: segment.trim() });
    }
  }
  return out;
}

const helps = new Map<string, string>();
/**
 * `vault-bundle [verb] --help` of the packed CLI (what ships in a bundle; 0.2 s a spawn). The top-level help
 * is also taken from the checkout (`node bin/vault-bundle.js --help`, what the README's alias runs) and must
 * be the same, so the two cannot drift apart unseen.
 */
async function help(verb: string): Promise<string> {
  if (!helps.has(verb)) {
    const args = [BIN, ...verb.split(' ').filter(Boolean), '--help'];
    helps.set(verb, (await run(process.execPath, args, { cwd: REPO })).stdout);
  }
  return helps.get(verb)!;
}
const flagsOf = (text: string) =>
  new Set(
    text
      .split('\n')
      .filter((l) => /^\s+-/.test(l))
      .flatMap((l) =>
        [
          ...l
            .trimStart()
            .replace(/\s{2,}\S.*$/, '')
            .matchAll(/--?[a-zA-Z][\w-]*/g),
        ].map((m) => m[0]),
      ),
  );
/** The subcommands a command's help lists (`cache verify`, `cache gc`), if it has any. */
const subcommandsOf = (text: string) => {
  const after = text.split(/^Commands:$/m)[1] ?? '';
  const section = after.split(/^\S/m)[0] ?? ''; // up to the next heading (Global Options:, Examples:)
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
};
const optionsOf = (text: string) => flagsOf((text.split('Global Options:')[0] ?? '').split('Options:')[1] ?? '');

let verbs: string[] = [];
beforeAll(async () => {
  const top = await help('');
  const fromSource = (await run(process.execPath, [join(REPO, 'bin/vault-bundle.js'), '--help'], { cwd: REPO })).stdout;
  expect(fromSource).toBe(top);
  verbs = [...subcommandsOf(top), 'help'];
  for (const v of verbs.filter((x) => x !== 'help')) for (const sub of subcommandsOf(await help(v))) await help(`${v} ${sub}`);
}, 120_000);

describe('docs: every command shown exists with the flags it uses', () => {
  const all = DOC_FILES.flatMap(blocks).filter((b) => b.lang === 'sh');
  it('the docs show commands for each user, box-only blocks marked', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(all.some((b) => b.tags.includes('box'))).toBe(true);
    expect(all.some((b) => b.tags.includes('run'))).toBe(true);
    for (const b of all)
      expect(
        b.tags.filter((t) => t !== 'box' && t !== 'run'),
        `${b.file}:${b.line}`,
      ).toEqual([]);
  });

  /** Problems with these invocations: a verb or subcommand that does not exist, a flag its --help does not list. */
  async function misused(calls: Invocation[]): Promise<string[]> {
    const wrong: string[] = [];
    // Global options may come before the verb (`vault-bundle --json audit …`); those with a value take the next word.
    const takesValue = new Set([...(await help('')).matchAll(/(--?[\w-]+) <[^>]+>/g)].map((m) => m[1]!));
    for (const c of calls) {
      let i = 0;
      const globals: string[] = [];
      for (; i < c.words.length && c.words[i]!.startsWith('-'); i++) {
        const f = c.words[i]!.replace(/=.*$/, '');
        globals.push(f);
        if (takesValue.has(f) && !c.words[i]!.includes('=')) i++;
      }
      const verb = c.words[i] ?? '';
      const words = [...globals, ...c.words.slice(i + 1)];
      if (verb && !verbs.includes(verb)) {
        wrong.push(`${c.where}: no command "${verb}": ${c.text}`);
        continue;
      }
      let cmd = verb;
      const subs = subcommandsOf(await help(cmd));
      if (cmd && subs.length > 0) {
        const sub = words.find((w) => !w.startsWith('-'));
        if (!sub || !subs.includes(sub)) {
          wrong.push(`${c.where}: vault-bundle ${cmd} has no subcommand "${sub ?? ''}": ${c.text}`);
          continue;
        }
        cmd = `${cmd} ${sub}`;
      }
      const known = flagsOf(await help(cmd));
      const flags = words.filter((w) => /^--?[a-zA-Z]/.test(w)).map((w) => w.replace(/=.*$/, ''));
      for (const f of flags) if (!known.has(f)) wrong.push(`${c.where}: vault-bundle ${cmd} has no ${f}: ${c.text}`);
    }
    return wrong;
  }

  it('verbs and flags match --help', async () => {
    const calls = all.flatMap(invocations);
    expect(calls.length).toBeGreaterThan(40);
    expect(await misused(calls)).toEqual([]);
  });

  it("the examples at the end of each command's --help use flags that exist", async () => {
    const examples = [...helps.entries()].flatMap(([verb, text]) => {
      const lines = [...text.matchAll(/^\s+\$ (.*vault-bundle .*)$/gm)].map((m) => m[1]!).join('\n');
      return lines ? invocations({ file: `vault-bundle ${verb} --help`, line: 0, lang: 'sh', tags: [], body: lines, end: 0 }) : [];
    });
    expect(await misused(examples)).toEqual([]);
  });

  it('the README is short, puts vault-bundle on PATH before using it, and shows no --key without saying where it comes from', () => {
    const readme = read('README.md');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(10 * 1024);
    const firstUse = readme.search(/^```sh[^\n]*\n(?:[^`][^\n]*\n)*?(?:\S*\/)?vault-bundle \w/m);
    expect(firstUse).toBeGreaterThan(0);
    expect(readme.indexOf('npm link')).toBeGreaterThan(0);
    expect(readme.indexOf('npm link')).toBeLessThan(firstUse);
    const box = blocks('README.md').find((b) => b.tags.includes('box'))!;
    expect(box.body).not.toMatch(/--key/);
    for (const page of ['docs/release-engineer.md', 'docs/field-tech.md', 'docs/security-reviewer.md', 'docs/reference.md']) {
      expect(readme).toContain(`](${page})`);
    }
  });
});

describe('docs/reference.md', () => {
  const ref = read('docs/reference.md');
  const section = (heading: RegExp) => {
    const m = heading.exec(ref);
    if (!m) return '';
    const rest = ref.slice(m.index + m[0].length);
    const next = rest.search(/^#{1,3} /m);
    return next < 0 ? rest : rest.slice(0, next);
  };

  it('has a section for every command naming each of its flags, and the global options', async () => {
    const missing: string[] = [];
    for (const v of verbs.filter((x) => x !== 'help')) {
      const text = section(new RegExp(`^### ${v}\\s*$`, 'm'));
      if (!text) missing.push(`no "### ${v}" section`);
      // A command with subcommands: its section (or a "### <verb> <sub>" section) names every subcommand's flags.
      const subs = subcommandsOf(await help(v));
      const all = text + subs.map((sub) => section(new RegExp(`^### ${v} ${sub}\\s*$`, 'm'))).join('\n');
      for (const cmd of [v, ...subs.map((sub) => `${v} ${sub}`)]) {
        for (const f of optionsOf(await help(cmd))) if (f !== '-h' && f !== '--help' && !all.includes(f)) missing.push(`${cmd} ${f}`);
      }
      for (const sub of subs) if (!all.includes(sub)) missing.push(`${v} ${sub} (subcommand not named)`);
    }
    const global = section(/^## Global options\s*$/m);
    for (const f of optionsOf(await help(''))) if (!global.includes(f)) missing.push(`global ${f}`);
    expect(missing).toEqual([]);
  });

  it('names every manifest field of the JSON Schema', async () => {
    const schema = JSON.parse((await run(process.execPath, [BIN, 'schema'], { cwd: REPO })).stdout) as Json;
    const paths = new Set<string>();
    fieldPaths(schema, '', paths);
    expect(paths.size).toBeGreaterThan(40);
    const manifest = section(/^## Manifest\s*$/m) + ref.slice(ref.indexOf('## Manifest'), ref.indexOf('## Lock file'));
    expect([...paths].filter((p) => !manifest.includes(`\`${p}\``))).toEqual([]);
  });
});

type Json = { [k: string]: Json } | Json[] | string | number | boolean | null;
function fieldPaths(s: Json, path: string, out: Set<string>): void {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return;
  for (const k of ['anyOf', 'oneOf', 'allOf']) for (const x of (s[k] as Json[] | undefined) ?? []) fieldPaths(x, path, out);
  const props = s.properties as Record<string, Json> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) {
    const p = path ? `${path}.${k}` : k;
    if (k !== '$schema') out.add(p);
    fieldPaths(v, p, out);
  }
  if (s.items) fieldPaths(s.items, `${path}[]`, out);
}

describe('docs: links', () => {
  const slug = (h: string) =>
    h
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
  const anchors = (f: string) => new Set([...read(f).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

  it('every relative link points at a file and heading that exist', () => {
    const broken: string[] = [];
    for (const f of DOC_FILES) {
      const text = read(f).replace(/^```[\s\S]*?^```/gm, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const href = m[1]!;
        if (/^[a-z]+:/.test(href)) continue;
        const [file, anchor] = href.split('#') as [string, string | undefined];
        const target = file ? join(dirname(f), file) : f;
        if (!existsSync(resolve(REPO, target))) broken.push(`${f}: ${href} (no file)`);
        else if (anchor && target.endsWith('.md') && !anchors(target).has(anchor)) broken.push(`${f}: ${href} (no heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/** Times, rates, sizes, fingerprints and dates differ between runs; the rest of a shown output must appear. */
const normal = (s: string) =>
  s
    .replace(/\b[0-9A-F]{40}\b/g, 'FPR')
    .replace(/\b\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?/g, 'DATE')
    .replace(/\d+(\.\d+)? (B|KiB|MiB|GiB)(\/s)?/g, 'SIZE')
    .replace(/\d+(\.\d+)? s\b/g, 'TIME')
    .trim();

describe("docs: the release engineer's walkthrough runs", () => {
  it('from an empty folder, offline, as written', async () => {
    const steps = blocks('docs/release-engineer.md').filter((b) => b.lang === 'sh' && b.tags.includes('run'));
    expect(steps.length).toBeGreaterThanOrEqual(6);
    const dir = await tempDir('vb-docs');
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'vault-bundle'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    await chmod(join(bin, 'vault-bundle'), 0o755);
    const work = join(dir, 'work');
    await mkdir(work);
    const script = ['set -e', ...steps.flatMap((b, i) => [`echo "@@step ${i}@@"`, b.body])].join('\n');
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, VAULT_BUNDLE_CACHE: join(dir, 'cache'), HOME: join(dir, 'home') };
    await mkdir(env.HOME);
    try {
      const r = spawnSync('bash', ['-c', `(${script}) 2>&1`], { cwd: work, env, encoding: 'utf8', timeout: 110_000 });
      expect(r.status, r.stdout).toBe(0);
      const printed = r.stdout.split(/^@@step \d+@@$/m).slice(1);
      expect(printed).toHaveLength(steps.length);
      steps.forEach((b, i) => {
        if (b.output === undefined) return;
        const got = normal(printed[i]!)
          .split('\n')
          .map((l) => l.trimEnd());
        for (const want of normal(b.output)
          .split('\n')
          .map((l) => l.trimEnd())) {
          expect(got, `docs/release-engineer.md:${b.line} shows a line the command did not print`).toContain(want);
        }
      });
      expect(existsSync(join(work, 'gpu-release/bundles/gpu-release/SHA256SUMS.asc'))).toBe(true);
    } finally {
      // gpg started an agent for the walkthrough's keyring: stop it, leave nothing running.
      spawnSync('gpgconf', ['--homedir', join(work, 'gpu-release/.gnupg'), '--kill', 'all'], { stdio: 'ignore' });
    }
  }, 120_000);
});
