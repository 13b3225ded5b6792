import { type Plugin, build } from 'esbuild';
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBED_CALL } from '../util/embed.js';
import { type BundledPackage, TRAILER } from './packages.js';

/**
 * Bundles the CLI into one CommonJS script for the box (which has no Node modules, only the carried node).
 * openpgp's ESM build calls createRequire(import.meta.url): the banner gives CJS an import.meta.url.
 * The CycloneDX library's optional XML serialisers are left out; the box never writes XML.
 * Returns the npm packages esbuild took in (from its metafile: only what is really in the script).
 */
export async function packScript(outfile: string): Promise<BundledPackage[]> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = await build({
    entryPoints: [fileURLToPath(new URL('../cli/run.ts', import.meta.url))],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    define: { 'import.meta.url': '__importMetaUrl' },
    banner: { js: 'var __importMetaUrl=require("url").pathToFileURL(__filename).href;' },
    // esbuild packs in a checkout only; the packed script carries itself instead.
    external: ['libxmljs2', 'xmlbuilder2', 'esbuild'],
    logLevel: 'error',
    legalComments: 'none',
    // A third less to parse at every start (verify on the box starts it once per bundle); names are kept, so
    // --debug stack traces still read.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    // import() becomes require(): runtime/boot.cjs compiles the script with vm.Script (its V8 code cache), where an
    // import() would need Node's experimental vm loader.
    supported: { 'dynamic-import': false },
    // Every byte ASCII (non-ASCII escaped): boot.cjs reads the script as latin1, the cheapest decoding.
    charset: 'ascii',
    plugins: [embedFiles],
  });
  const bytes = new Map<string, number>();
  for (const out of Object.values(r.metafile.outputs)) {
    for (const [p, i] of Object.entries(out.inputs)) bytes.set(p, (bytes.get(p) ?? 0) + i.bytesInOutput);
  }
  const packages = await packagesOf(Object.keys(r.metafile.inputs), root, bytes);
  await writeTrailer(outfile, packages);
  return packages;
}

/**
 * The box-side .sh and .py files travel inside the packed script: each `embedded(new URL('<file>',
 * import.meta.url))` in our sources becomes the file's text, as a string literal (util/embed.ts).
 */
const embedFiles: Plugin = {
  name: 'vault-bundle-embed',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('embedded(new URL(')) return undefined;
      const files = [...text.matchAll(EMBED_CALL)].map((m) => m[1]!);
      const bodies = new Map(await Promise.all(files.map(async (f) => [f, await readFile(resolve(dirname(args.path), f), 'utf8')] as const)));
      const contents = text.replace(EMBED_CALL, (_, f: string) => JSON.stringify(bodies.get(f)));
      return { contents, loader: 'ts', watchFiles: files.map((f) => resolve(dirname(args.path), f)) };
    });
  },
};

/**
 * The packages whose files are among esbuild's inputs: the folder after the last node_modules/ of each path,
 * with the bytes of the script that are theirs and their integrity from package-lock.json.
 */
export async function packagesOf(inputs: readonly string[], root: string, bytesIn: ReadonlyMap<string, number> = new Map()): Promise<BundledPackage[]> {
  const dirs = new Map<string, number>();
  for (const p of inputs) {
    const all = [...p.matchAll(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//g)];
    const last = all.at(-1);
    if (last) {
      const d = p.slice(0, last.index + last[0].length);
      dirs.set(d, (dirs.get(d) ?? 0) + (bytesIn.get(p) ?? 0));
    }
  }
  const lock = await lockPackages(root);
  const byId = new Map<string, BundledPackage>();
  for (const [d, bytes] of dirs) {
    const pj = JSON.parse(await readFile(resolve(root, d, 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
      license?: unknown;
      licenses?: { type?: string }[];
    };
    if (!pj.name || !pj.version) continue;
    const license =
      typeof pj.license === 'string'
        ? pj.license
        : pj.license && typeof pj.license === 'object' && 'type' in pj.license && typeof pj.license.type === 'string'
          ? pj.license.type
          : pj.licenses
              ?.map((l) => l.type)
              .filter(Boolean)
              .join(' OR ') || undefined;
    const integrity = lock[d.replace(/\/$/, '')]?.integrity;
    const id = `${pj.name}@${pj.version}`;
    const had = byId.get(id);
    byId.set(id, {
      name: pj.name,
      version: pj.version,
      ...(license ? { license } : {}),
      ...(integrity ? { integrity } : {}),
      ...(bytesIn.size ? { bytes: bytes + (had?.bytes ?? 0) } : {}),
    });
  }
  return [...byId.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));
}

/** package-lock.json's `packages` (lockfileVersion 2 and 3): install path → what npm locked. */
async function lockPackages(root: string): Promise<Record<string, { integrity?: string }>> {
  try {
    const lock = JSON.parse(await readFile(resolve(root, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { integrity?: string }> };
    return lock.packages ?? {};
  } catch {
    return {};
  }
}

async function writeTrailer(file: string, packages: readonly BundledPackage[]): Promise<void> {
  const fh = await open(file, 'a');
  try {
    await fh.write(`\n${TRAILER}${Buffer.from(JSON.stringify(packages)).toString('base64')}\n`);
  } finally {
    await fh.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void packScript(process.argv[2] ?? 'dist/vault-bundle.cjs');
}
