import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PackageURL } from 'packageurl-js';
import { z } from 'zod';
import { digestOf } from '../../store/digest.js';
import { localSize, openUrl } from '../../fetch/open.js';
import { ManifestError, UpstreamError } from '../../util/errors.js';
import type { BuildCtx, Locked, Source } from '../source.js';
import { fileSpace, installFiles } from './install.js';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'letters, digits and . _ + - only, starting with a letter or digit');

const fileEntry = z
  .strictObject({
    name: name.describe('Unique name of the file in this bundle.'),
    version: z.string().min(1).optional().describe('Version for the SBOM (default: the first 12 hex of sha256).'),
    url: z
      .url({ protocol: /^(https?|file)$/ })
      .optional()
      .describe('Where to fetch it (https, http or file).'),
    path: z.string().min(1).optional().describe('A local file; relative to the manifest folder.'),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits (the output of sha256sum)')
      .describe('Pinned sha256 of the content; a file without it is refused.'),
    size: z.int().nonnegative().optional().describe('Size in bytes, when the server does not say.'),
    license: z.string().optional().describe('SPDX license expression, for the SBOM.'),
    install: z
      .strictObject({
        dest: z.string().regex(/^\//, 'an absolute path on the box').describe('Where install copies the file.'),
        mode: z
          .string()
          .regex(/^0?[0-7]{3,4}$/, 'an octal mode such as "0644"')
          .optional()
          .describe('File mode on the box (default 0644).'),
      })
      .optional()
      .describe('Where the file goes on the box (optional).'),
  })
  .describe('A file pinned by sha256: a keyring, an installer, a wheel from a wheelhouse.');

export const filesSchema = z.array(fileEntry).describe('Plain files, each pinned by sha256.');
export type FileSpec = z.infer<typeof fileEntry>;

export const fileSource: Source<FileSpec[]> = {
  kind: 'file',
  section: 'files',
  schema: filesSchema,

  async resolve(specs, ctx) {
    const seen = new Set<string>();
    return Promise.all(
      specs.map(async (spec, i): Promise<Locked> => {
        const at = `${ctx.manifestPath}: files[${i}] (${spec.name})`;
        if (seen.has(spec.name)) {
          throw new ManifestError({
            code: 'MANIFEST_FIELD',
            message: `${at}: the name "${spec.name}" is used twice`,
            subject: at,
            hint: 'give every file a unique name',
          });
        }
        seen.add(spec.name);
        if ((spec.url === undefined) === (spec.path === undefined)) {
          throw new ManifestError({
            code: 'MANIFEST_FIELD',
            message: `${at}: give exactly one of "url" or "path"`,
            subject: at,
            hint: 'use "path" for a file on this machine, "url" for one to download',
          });
        }
        const url = spec.url ?? pathToFileURL(resolvePath(ctx.baseDir, spec.path as string)).href;
        const size = spec.size ?? (await sizeOf(url, spec.name, ctx));
        const digest = digestOf(spec.sha256);
        const version = spec.version ?? spec.sha256.toLowerCase().slice(0, 12);
        const meta: Record<string, string> = {};
        if (spec.install) {
          meta.dest = spec.install.dest;
          meta.mode = spec.install.mode ?? '0644';
        }
        if (spec.license) meta.license = spec.license;
        const qualifiers: Record<string, string> = { checksum: digest };
        if (!url.startsWith('file:')) qualifiers.download_url = url;
        return {
          kind: 'file',
          id: `file:${spec.name}`,
          name: spec.name,
          version,
          digest,
          size,
          url,
          purl: new PackageURL('generic', undefined, spec.name, version, qualifiers).toString(),
          provenance: { kind: 'manifest-pin', manifest: ctx.manifestPath },
          ...(Object.keys(meta).length ? { meta } : {}),
        };
      }),
    );
  },

  open(item, ctx) {
    return openUrl(item.url, item.size, item.id, ctx);
  },

  install: installFiles,
  space: fileSpace,
};

async function sizeOf(url: string, subject: string, ctx: BuildCtx): Promise<number> {
  if (url.startsWith('file:')) return localSize(fileURLToPath(url), `file:${subject}`);
  // A one-byte range request tells the size without downloading the file.
  const r = await ctx.http.get(url, {
    headers: { range: 'bytes=0-0' },
    signal: ctx.signal,
    maxLength: ctx.limits.maxDownloadBytes,
    subject: `file:${subject}`,
  });
  const total = r.totalSize;
  // Leaving the loop closes the response: a server that ignored the range sends no more than one chunk.
  for await (const _ of r.body) break;
  if (total === undefined) {
    throw new UpstreamError({
      code: 'HTTP_STATUS',
      message: `file:${subject}: the server at ${url} does not say the file's size`,
      subject: `file:${subject}`,
      hint: 'add "size: <bytes>" to the entry in the manifest',
    });
  }
  return total;
}
