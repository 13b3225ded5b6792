import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

/**
 * Bundles the CLI into one CommonJS script for the box (which has no Node modules, only the carried node).
 * openpgp's ESM build calls createRequire(import.meta.url): the banner gives CJS an import.meta.url.
 * The CycloneDX library's optional XML serialisers are left out; the box never writes XML.
 */
export async function packScript(outfile: string): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL('../cli/run.ts', import.meta.url))],
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
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void packScript(process.argv[2] ?? 'dist/vault-bundle.cjs');
}
